"""Coupling & Compression Lab."""
