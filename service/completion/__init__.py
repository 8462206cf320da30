"""How the promise learns that Athena finished: events meet waiters, or a watcher polls."""
