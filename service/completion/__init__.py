"""How the promise learns that Athena finished: events or batched status checks reach a mailbox."""
