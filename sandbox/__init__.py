"""Local stand-ins for one deployed environment, so the operator commands run offline.

`recsys-dr sandbox up` starts them and writes a stack-outputs file; `recsys-dr status`,
`failover` and `drill` then run against loopback addresses only (127.0.0.1; the standby's endpoint
on 127.0.0.2). The same stand-ins serve the operations tests.

Modules:

* `aws`         - moto's AWS APIs on 127.0.0.1, with the gaps the operator tools meet filled in.
* `route53`     - Route 53's health checkers and failover answers (aliases too), computed from stored config.
* `front_door`  - the pods' TargetGroupBinding and ELB's target health, computed from stored config.
* `kube`        - a fake Kubernetes API (Deployment scale, KEDA ScaledObject and its HPA, GPU nodes),
                  HTTPS with a cluster CA.
* `serving`     - TF Serving's REST API (model status, `:predict` with canned answers).
* `tls`         - the throw-away cluster CA.
* `seed`        - create in moto what the components create (buckets, clusters, front doors, records, ...).
* `environment` - `Sandbox`: all of it for one stack's outputs.
* `cli`         - `recsys-dr sandbox up|down` and the background process behind it.

Needs moto (`pip install 'recsys-dr[sandbox]'`); nothing here is imported by the library itself.
"""
