"""Accelerators: TCG, and KVM behind one ONE_REG transport (kernel models or real ioctls)."""
