"""The kubelet side: container start and pod lifecycle on a node."""
