"""File storage adapters: local disk and S3-compatible object storage."""
