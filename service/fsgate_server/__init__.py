"""fsgate server: serves the fsgate.v1 FileSystemService through per-request sandboxed helpers."""
