"""The town hall's network: devices found on the directly attached subnets (ARP sweep with
scapy and the kernel's neighbour table), who made them, what they are, what they leave open."""
