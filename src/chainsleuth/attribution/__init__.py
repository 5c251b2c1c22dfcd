"""L1: the tag taxonomy as data, tag importers (TagPack YAML, OFAC, Etherscan labels, CSV), propagation."""
