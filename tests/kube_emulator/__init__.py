"""EMULATOR of a small part of the Kubernetes API, for tests only. Not Kubernetes.

No Kubernetes API server can run on the test machines (docs/testing.md). This package serves, over
plain HTTP, only what the collection's cluster plays ask of the API through kubernetes.core
(k8s, k8s_info, k8s_taint) and the real `helm` binary (release listing and history): discovery, the
kinds Node, Namespace, Pod, Secret, ConfigMap, DaemonSet and RuntimeClass, label and field selectors,
create/replace/patch/delete, server-side dry run, resourceVersion preconditions, plus just enough
controller behaviour to make the device plugin observable (pods of a DaemonSet on the nodes it
schedules to, the plugin advertising nvidia.com/gpu). Python standard library only, so it also runs
inside a test container. What it mirrors, and every simplification, is listed in server.py.
"""
