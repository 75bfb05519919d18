"""Webhooks (README "Webhooks"): the delivery of the outbox's events to the operator's receivers.

The events are written by the code of each state change (deposits/events.py, alerts.py here)
into the store's outbox (store/webhooks.py); delivery.py posts them, signed (signing.py).
"""
