"""`dcrm.client.__all__` is what the package docstring promises: sorted, importable, and per runtime module its API
class, the base of its errors and its offline verifiers, while one-per-code error classes stay namespaced."""

from __future__ import annotations

import importlib

import dcrm.client
from dcrm.client.errors import ModuleError, module_error_class

MODULES = {  # SDK module -> (API class, base error class, module index), both classes re-exported at the top level
    "system": ("SystemApi", "SystemModuleError", 0),
    "identity": ("IdentityApi", "IdentityModuleError", 1),
    "consent": ("ConsentApi", "ConsentModuleError", 2),
    "tokens": ("TokensApi", "TokensModuleError", 3),
    "governance": ("GovernanceApi", "GovernanceModuleError", 4),
}
OFFLINE_VERIFIERS = {
    "identity": ("issue_credential", "verify_credential", "CredentialInvalid", "VerificationFailure"),
    "consent": ("verify_consent_receipt", "ReceiptInvalid", "VerifiedConsentReceipt"),
}


def test_all_is_sorted_unique_and_importable() -> None:
    names = dcrm.client.__all__
    assert names == sorted(set(names))
    for name in names:
        assert getattr(dcrm.client, name) is not None, name


def test_each_module_exports_its_api_error_base_and_verifiers() -> None:
    for module_name, (api, base, index) in MODULES.items():
        module = importlib.import_module(f"dcrm.client.{module_name}")
        assert {api, base} <= set(dcrm.client.__all__), module_name
        assert getattr(dcrm.client, api) is getattr(module, api)
        error_base = getattr(dcrm.client, base)
        assert issubclass(error_base, ModuleError)
        assert error_base.module_index == index
        assert module_error_class(index, 10_000) is error_base  # an unknown code of the module maps to its base
    for module_name, names in OFFLINE_VERIFIERS.items():
        module = importlib.import_module(f"dcrm.client.{module_name}")
        for name in names:
            assert name in dcrm.client.__all__, name
            assert getattr(dcrm.client, name) is getattr(module, name), name


def test_one_per_code_error_classes_of_the_runtime_modules_stay_namespaced() -> None:
    exported = {id(getattr(dcrm.client, name)) for name in dcrm.client.__all__}
    for module_name in ("identity", "consent", "tokens", "governance"):
        module = importlib.import_module(f"dcrm.client.{module_name}")
        base = getattr(module, MODULES[module_name][1])
        per_code = [
            value
            for value in (getattr(module, name) for name in module.__all__)
            if isinstance(value, type) and issubclass(value, ModuleError) and value is not base
        ]
        assert per_code, module_name
        assert not [error for error in per_code if id(error) in exported], module_name
    # the reason: names repeat across modules, with different classes
    identity, consent = (importlib.import_module(f"dcrm.client.{name}") for name in ("identity", "consent"))
    assert identity.BadDid is not consent.BadDid
