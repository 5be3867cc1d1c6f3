"""The recommender's hyper-parameters: network sizes and training settings.

Plain dataclasses with no TensorFlow import, so the command line reads its defaults from
here (each default is declared once) and ``--help`` stays fast.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

DEFAULT_SAMPLE_USERS = 20_000
"""Sharded logs: users whose held-out items a build keeps for model selection and evaluation."""


@dataclass(frozen=True, kw_only=True)
class NetworkConfig:
    """Network sizes.

    Args:
        embedding_dim: width of item and query-token embeddings; default 64.
        attention_blocks: self-attention blocks over the history (0 = position-weighted
            embeddings only); default 1.
        attention_heads: heads per block; default 2.
        dropout: dropout in the attention blocks while training; default 0.1.
        hidden_units: ReLU layers between the encoders and the user vector; default (256,).
        repeat: use the repeat head and gate (False = explore scores only); default True.
        sequence_length: most recent history items the attention encoder reads ``M`` (the
            repeat head reads the whole history ``L``); default 20.
    """

    embedding_dim: int = 64
    attention_blocks: int = 1
    attention_heads: int = 2
    dropout: float = 0.1
    hidden_units: tuple[int, ...] = (256,)
    repeat: bool = True
    sequence_length: int = 20

    def __post_init__(self) -> None:
        if self.embedding_dim < 2:
            raise ValueError(f"`embedding_dim` must be >= 2. Received: {self.embedding_dim}")
        if self.attention_blocks < 0:
            raise ValueError(f"`attention_blocks` must be >= 0. Received: {self.attention_blocks}")
        if self.attention_heads < 1 or self.embedding_dim % self.attention_heads:
            raise ValueError(
                f"`attention_heads` must be >= 1 and divide `embedding_dim`. "
                f"Received: attention_heads={self.attention_heads}, embedding_dim={self.embedding_dim}"
            )
        if any(u < 1 for u in self.hidden_units):
            raise ValueError(f"`hidden_units` must all be >= 1. Received: {self.hidden_units}")
        if self.sequence_length < 1:
            raise ValueError(f"`sequence_length` must be >= 1. Received: {self.sequence_length}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"`dropout` must be in [0, 1). Received: {self.dropout}")

    def to_dict(self) -> dict:
        return asdict(self) | {"hidden_units": list(self.hidden_units)}


@dataclass(frozen=True, kw_only=True)
class TrainConfig:
    """Training hyper-parameters.

    Args:
        network: layer sizes, see :class:`NetworkConfig`; default ``NetworkConfig()``.
        history_length: history items fed to the model ``L``, the request's history width: the
            repeat head counts over all of them, the attention encoder reads the last
            ``network.sequence_length``; default 256 (Complete Journey's validation NDCG@10 is
            0.0703 at 20 against 0.0845 at 256, where personal frequency is 0.0762).
        query_length: query tokens fed to the model ``Q``; default 8.
        max_query_tokens: query vocabulary cap; default 20000.
        query_token_min_users: keep a query token only if at least this many distinct users typed
            it; default 5. The vocabulary ships in the SavedModel, replicated and kept for a year:
            k-anonymity (Sweeney 2002) applied to query tokens as Adar ("Anonymizing Query Logs",
            WWW 2007 query-log workshop) applies it to queries, with k = 5, a common small-cell
            threshold; names, e-mail fragments and order numbers stay out.
        epochs: most passes over the training examples; default 30.
        patience: epochs without validation improvement before stopping; default 3.
        batch_size: examples per step; default 128 (MovieLens-100K, seed 42, exact softmax:
            NDCG@10 0.1118 against 0.1002 at 256; twice the steps per epoch).
        learning_rate: Adam learning rate; default 3e-3.
        ema_momentum: validate, keep and export an exponential moving average of the weights
            over the steps (Keras ``use_ema``), 0 = the last step's weights; default 0.99
            (MovieLens-100K, seeds 42-47: mean NDCG@10 0.1108 against 0.1002 without).
        num_sampled: sampled-softmax negatives per batch; default 1024.
        epoch_examples: training examples per epoch, a fresh seeded sample each epoch (without
            replacement), so validation and early stopping come every that many examples on
            large logs; 0 = every example every epoch; default 0.
        validation_users: validation examples ranked per epoch (a seeded sample); default 5000.
        refit: after model selection, retrain a fresh model on training + validation
            interactions for the selected number of epochs; default True.
        seed: seed for initialisation, sampling and shuffling; default 42.
    """

    network: NetworkConfig = field(default_factory=NetworkConfig)
    history_length: int = 256
    query_length: int = 8
    max_query_tokens: int = 20_000
    query_token_min_users: int = 5
    epochs: int = 30
    patience: int = 3
    batch_size: int = 128
    learning_rate: float = 3e-3
    ema_momentum: float = 0.99
    num_sampled: int = 1024
    epoch_examples: int = 0
    validation_users: int = 5000
    refit: bool = True
    seed: int = 42

    def __post_init__(self) -> None:
        for name in ("history_length", "query_length", "epochs", "patience", "batch_size", "max_query_tokens",
                     "query_token_min_users", "num_sampled", "validation_users"):
            if getattr(self, name) < 1:
                raise ValueError(f"`{name}` must be >= 1. Received: {getattr(self, name)}")
        if self.epoch_examples < 0:
            raise ValueError(f"`epoch_examples` must be >= 0 (0 = all). Received: {self.epoch_examples}")
        if self.learning_rate <= 0:
            raise ValueError(f"`learning_rate` must be > 0. Received: {self.learning_rate}")
        if not 0.0 <= self.ema_momentum < 1.0:
            raise ValueError(f"`ema_momentum` must be in [0, 1) (0 = no average). Received: {self.ema_momentum}")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["network"] = self.network.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        net = dict(d["network"])
        net["hidden_units"] = tuple(net["hidden_units"])
        return cls(**{**d, "network": NetworkConfig(**net)})
