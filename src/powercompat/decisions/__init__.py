"""Pure decisions over the catalogue. Each returns a value plus the reasons behind it.

Nothing here keeps state or imports the machine, accel, profiles or cli layers.
"""
