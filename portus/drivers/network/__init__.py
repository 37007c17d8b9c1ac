"""Network drivers: address management and host bridges for the declared subnets."""
