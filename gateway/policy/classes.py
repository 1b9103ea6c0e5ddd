"""Data classes: the names policies use for groups of findings.

A finding has a detector kind (``pii``, ``secret``, ...) and an entity type (``EMAIL_ADDRESS``,
``AWS_ACCESS_KEY_ID``, ``TERM:codenames``).  Policies may name either, or one of these classes,
which are stable groupings a security team can write rules against without listing every entity.

Unknown PII entity types (a recognizer added later) fall into ``personal_data``: a new detector
makes policies stricter, never looser.
"""

from __future__ import annotations

from collections.abc import Mapping

from gateway.scan.findings import Kind

# PII entity types that do not on their own identify or reach a person: a place ("the capital of
# France"), a nationality or religion, a firm, a web address.  Everything else the PII detector
# reports, including any type added later, is personal data.
_NOT_PERSONAL = frozenset({"LOCATION", "NRP", "ORGANIZATION", "URL", "DOMAIN_NAME"})

# Sub-classes of personal data, by entity type.
_PII_GROUPS: Mapping[str, str] = {
    "PERSON": "identity",
    "NRP": "demographic",
    "DATE_OF_BIRTH": "identity",
    "EMAIL_ADDRESS": "contact",
    "PHONE_NUMBER": "contact",
    "STREET_ADDRESS": "contact",
    "ZIP_CODE": "contact",
    "LOCATION": "location",
    "IP_ADDRESS": "network",
    "CREDIT_CARD": "financial",
    "IBAN_CODE": "financial",
    "US_BANK_NUMBER": "financial",
    "CRYPTO": "financial",
    "US_SSN": "government_id",
    "US_ITIN": "government_id",
    "US_PASSPORT": "government_id",
    "US_DRIVER_LICENSE": "government_id",
    "MEDICAL_LICENSE": "government_id",
    "UK_NHS": "government_id",
    "UK_NINO": "government_id",
    "ES_NIF": "government_id",
    "ES_NIE": "government_id",
    "IT_FISCAL_CODE": "government_id",
    "PL_PESEL": "government_id",
    "SE_PERSONNUMMER": "government_id",
    "FI_PERSONAL_IDENTITY_CODE": "government_id",
    "DE_TAX_ID": "government_id",
    "DE_ID_CARD": "government_id",
    "FR_NIR": "government_id",
    "NL_BSN": "government_id",
    "BE_NATIONAL_NUMBER": "government_id",
    "ORGANIZATION": "organization",
    "URL": "web_address",
    "DOMAIN_NAME": "web_address",
}

_KIND_CLASSES: Mapping[Kind, tuple[str, ...]] = {
    "pii": (),
    "secret": ("credentials",),
    "code": ("source_code", "company_ip"),
    "marker": ("confidential", "company_ip"),
    "term": ("company_terms", "company_ip"),
    "fingerprint": ("protected_documents", "company_ip"),
    "suspicious_encoding": ("suspicious_encoding",),
    "unscannable": ("unscannable",),
    "scan_failed": ("scan_failed",),
}

DATA_CLASSES: Mapping[str, str] = {
    "personal_data": "identity, contact, network, financial, government_id, and any other PII type "
    "except location, demographic, organization and web_address",
    "identity": "PERSON, DATE_OF_BIRTH",
    "demographic": "NRP: nationality, religious or political group (not personal data on its own)",
    "contact": "EMAIL_ADDRESS, PHONE_NUMBER, STREET_ADDRESS, ZIP_CODE",
    "location": "LOCATION (not personal data on its own)",
    "network": "IP_ADDRESS",
    "financial": "CREDIT_CARD, IBAN_CODE, US_BANK_NUMBER, CRYPTO",
    "government_id": "national ID, passport, licence, tax and health numbers",
    "organization": "ORGANIZATION (not personal data)",
    "web_address": "URL, DOMAIN_NAME (not personal data)",
    "credentials": "every secret: provider keys, private keys, passwords, tokens",
    "source_code": "SOURCE_CODE",
    "confidential": "confidentiality and privilege markings",
    "company_terms": "hits of the organisation's term lists and patterns (TERM:*)",
    "protected_documents": "passages of registered documents (FINGERPRINT:*)",
    "company_ip": "source_code, confidential, company_terms and protected_documents",
    "suspicious_encoding": "base64 or hex blobs of 96+ bytes the gateway cannot turn into text "
    "(SUSPICIOUS_ENCODING): encrypted, or compressed in a format it does not open",
    "unscannable": "images, audio and files the gateway cannot read",
    "token_ids": "prompts given as token-id arrays (TOKEN_IDS): unreadable, refused unless allowed",
    "scan_failed": "detection failed or timed out",
}


# A prompt given as token ids is not media to keep local: the local model's tokenizer differs, so it
# would answer nonsense.  A class of its own, refused unless a rule allows it (see policy.stage).
TOKEN_IDS = "TOKEN_IDS"  # noqa: S105 (an entity name, not a password)


def classes_of(kind: Kind, entity: str) -> frozenset[str]:
    """The data classes a finding of ``kind`` and ``entity`` belongs to."""
    if kind == "unscannable" and entity == TOKEN_IDS:
        return frozenset({"token_ids"})
    if kind != "pii":
        return frozenset(_KIND_CLASSES[kind])
    group = _PII_GROUPS.get(entity)
    out = {group} if group else set()
    if entity not in _NOT_PERSONAL:
        out.add("personal_data")
    return frozenset(out)
