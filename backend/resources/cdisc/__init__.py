"""The CDISC export of a study (docs/cdisc.md)."""
