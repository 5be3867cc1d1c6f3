"""TF Serving's batching parameters: the file it reads, the values derived, what it would refuse."""

from __future__ import annotations

import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, text_format, wrappers_pb2
from google.protobuf.message_factory import GetMessageClass

from recsys_dr.components.serving.batching import Batching, batching_problems, resolve_batching


def batching_parameters_class():
    """`BatchingParameters` as tensorflow_serving/servables/tensorflow/session_bundle_config.proto
    declares it (package tensorflow.serving; fields 1-4 Int64Value, 5 StringValue, 6 repeated
    int64, 7 bool, 8 BoolValue, 9 Int64Value), built here because the TF Serving wheel ships the
    API protos only."""
    pool = descriptor_pool.DescriptorPool()
    pool.AddSerializedFile(wrappers_pb2.DESCRIPTOR.serialized_pb)
    proto = descriptor_pb2.FileDescriptorProto(name="batching.proto", package="tensorflow.serving",
                                               dependency=["google/protobuf/wrappers.proto"])
    message = proto.message_type.add(name="BatchingParameters")
    label, optional = descriptor_pb2.FieldDescriptorProto, descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL
    fields = [("max_batch_size", 1, ".google.protobuf.Int64Value"), ("batch_timeout_micros", 2, ".google.protobuf.Int64Value"),
              ("max_enqueued_batches", 3, ".google.protobuf.Int64Value"), ("num_batch_threads", 4, ".google.protobuf.Int64Value"),
              ("thread_pool_name", 5, ".google.protobuf.StringValue"), ("enable_large_batch_splitting", 8, ".google.protobuf.BoolValue"),
              ("max_execution_batch_size", 9, ".google.protobuf.Int64Value")]
    for name, number, type_name in fields:
        message.field.add(name=name, number=number, label=optional, type=label.TYPE_MESSAGE, type_name=type_name)
    message.field.add(name="allowed_batch_sizes", number=6, label=label.LABEL_REPEATED, type=label.TYPE_INT64)
    message.field.add(name="pad_variable_length_inputs", number=7, label=optional, type=label.TYPE_BOOL)
    pool.Add(proto)
    return GetMessageClass(pool.FindMessageTypeByName("tensorflow.serving.BatchingParameters"))


def resolved(**overrides) -> Batching:
    values = {"max_batch_size": None, "batch_timeout_micros": 2000, "num_batch_threads": None, "max_enqueued_batches": None,
              "rest_api_num_threads": None, "model_max_batch": 64, "cpu_millicores": 3000}
    return resolve_batching(**{**values, **overrides})


def test_the_parameters_file_parses_as_batching_parameters_with_every_value_set():
    parsed = text_format.Parse(resolved().parameters_text(), batching_parameters_class()())
    assert parsed.max_batch_size.value == 64 and parsed.batch_timeout_micros.value == 2000
    assert parsed.num_batch_threads.value == 3 and parsed.max_enqueued_batches.value == 3
    # Set, not left to BasicBatchScheduler's defaults (1000 rows, no timeout, 10 batches, the node's cores).
    assert all(parsed.HasField(f) for f in ("max_batch_size", "batch_timeout_micros", "num_batch_threads", "max_enqueued_batches"))
    assert not parsed.HasField("enable_large_batch_splitting")


def test_a_misspelt_field_would_not_parse():
    with pytest.raises(text_format.ParseError):
        text_format.Parse("max_batch { value: 1 }\n", batching_parameters_class()())


def test_defaults_follow_the_model_and_the_pods_cpu():
    batching = resolved(cpu_millicores=5500)
    assert (batching.max_batch_size, batching.num_batch_threads, batching.max_enqueued_batches) == (64, 6, 6)
    # 2 REST threads per batch row fill a batch (session_bundle_config.proto), at least 4 per core (server.h).
    assert batching.rest_api_num_threads == max(4 * 6, 2 * 64) == 128
    assert resolved(max_batch_size=4, cpu_millicores=8000).rest_api_num_threads == 32


def test_server_flags_switch_batching_on_and_name_the_file():
    args = resolved().server_args()
    assert args == ["--enable_batching=true", "--batching_parameters_file=/etc/tf-serving/batching_parameters.txt",
                    "--rest_api_num_threads=128"]


@pytest.mark.parametrize(("overrides", "admitted", "message"), [
    ({"max_batch_size": 128}, 8, "must be <= `model.maxBatch` (64)"),
    ({"max_batch_size": 4}, 8, "must be >= 8, the rows one request may carry through the front door"),
    ({"max_enqueued_batches": 1, "rest_api_num_threads": 100}, 8, "queues at most 1 x 64 = 64 requests but runs 100 REST threads"),
])
def test_what_tf_serving_or_the_model_would_refuse_is_refused_first(overrides, admitted, message):
    problems = batching_problems("serving.batching", resolved(**overrides), model_max_batch=64, rows_admitted=admitted)
    assert any(message in p for p in problems), problems


def test_the_defaults_pass():
    assert batching_problems("serving.batching", resolved(), model_max_batch=64, rows_admitted=8) == []
