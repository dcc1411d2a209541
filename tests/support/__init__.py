"""Test support: builders, fakes and small harnesses that several test rooms share."""
