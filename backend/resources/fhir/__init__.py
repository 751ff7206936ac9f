"""FHIR reads: Consent, Provenance, DocumentReference (R4 and R5) and a study export."""
