"""Facts only: compat modes, PCR bits, CPU families and models, KVM numbers, guests.

Nothing here decides anything, and nothing here imports the rest of powercompat.
"""
