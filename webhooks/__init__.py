"""Standard Webhooks: secrets, signing and verification.

Shared by the sender (the service) and the receiver (the listener), so both agree on the
signed content by construction; it imports neither.
"""
