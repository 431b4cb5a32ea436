"""Brokers: fan-out of encoded events to every process, and live presence/typing state."""
