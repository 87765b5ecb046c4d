"""The helper side: the message format, the file operations, and the entry point of one helper."""
