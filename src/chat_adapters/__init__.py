"""Implementations of chatcore's ports: SQL, file storage, brokers, user directories."""
