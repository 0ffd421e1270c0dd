"""The dcrm Python SDK: keys, transactions, a gRPC client, verified reads and typed errors.

```python
from dcrm.client import Client, load_key

with Client("127.0.0.1:7050") as client:
    admin = client.account(load_key("admin.key"))
    receipt = client.system.grant_role(admin, issuer_account_id, "issuer")
```

The top level holds what every program needs (Client, Account, keys, certificates and proofs, the transport's
and the system module's errors) and, for each runtime module, its API class (reached as `client.<module>`), the
base class of its errors (to catch any of them) and what verifies its documents without a node (credentials,
consent receipts). Everything else of a module (its call indices, one error class per code, helpers) is
imported from `dcrm.client.<module>`: error names repeat across modules (`BadDid`, `BadAccount`, ...).
"""

from __future__ import annotations

from dcrm.client.certificates import (
    ValidatorKey,
    block_hash,
    quorum,
    sign_vote,
    validator_keys,
    verify_block,
    verify_commit_certificate,
)
from dcrm.client.client import Account, Client
from dcrm.client.consent import (
    ConsentApi,
    ConsentChange,
    ConsentModuleError,
    ReceiptInvalid,
    VerifiedConsentReceipt,
    verify_consent_receipt,
)
from dcrm.client.credentials import (
    CredentialInvalid,
    VerificationFailure,
    VerifiedCredential,
    issue_credential,
)
from dcrm.client.errors import (
    Aborted,
    AlreadyExists,
    BadAccount,
    BadArguments,
    CallPanicked,
    CertificateError,
    DcrmError,
    DeadlineExceeded,
    EventError,
    FailedPrecondition,
    InvalidArgument,
    KeyFileError,
    LastAdmin,
    MissingRole,
    ModuleError,
    NoteTooLong,
    NotFound,
    PermissionDenied,
    ProtocolError,
    ResourceExhausted,
    RoleAlreadyGranted,
    RoleNotHeld,
    RpcError,
    SignatureError,
    SystemModuleError,
    TransactionFailed,
    Unauthenticated,
    Unavailable,
    UnknownCall,
    UnknownEvent,
    UnknownRole,
    admission_error,
    error_for_receipt,
    from_rpc_error,
    module_error_class,
    raise_for_receipt,
)
from dcrm.client.governance import GovernanceApi, GovernanceModuleError
from dcrm.client.identity import CreatedDid, IdentityApi, IdentityModuleError, verify_credential
from dcrm.client.keys import (
    SigningKey,
    account_id_from_public_key,
    from_hex,
    load_key,
    recover_public_key,
    save_key,
    to_hex,
)
from dcrm.client.proof import ProofError, verify_state_proof
from dcrm.client.system import SystemApi
from dcrm.client.tls import tls_credentials
from dcrm.client.tokens import TokensApi, TokensModuleError
from dcrm.client.transactions import (
    build_transaction,
    decode_event,
    recover_signer,
    transaction_hash,
    verify_transaction,
)

__all__ = [
    "Aborted",
    "Account",
    "AlreadyExists",
    "BadAccount",
    "BadArguments",
    "CallPanicked",
    "CertificateError",
    "Client",
    "ConsentApi",
    "ConsentChange",
    "ConsentModuleError",
    "CreatedDid",
    "CredentialInvalid",
    "DcrmError",
    "DeadlineExceeded",
    "EventError",
    "FailedPrecondition",
    "GovernanceApi",
    "GovernanceModuleError",
    "IdentityApi",
    "IdentityModuleError",
    "InvalidArgument",
    "KeyFileError",
    "LastAdmin",
    "MissingRole",
    "ModuleError",
    "NotFound",
    "NoteTooLong",
    "PermissionDenied",
    "ProofError",
    "ProtocolError",
    "ReceiptInvalid",
    "ResourceExhausted",
    "RoleAlreadyGranted",
    "RoleNotHeld",
    "RpcError",
    "SignatureError",
    "SigningKey",
    "SystemApi",
    "SystemModuleError",
    "TokensApi",
    "TokensModuleError",
    "TransactionFailed",
    "Unauthenticated",
    "Unavailable",
    "UnknownCall",
    "UnknownEvent",
    "UnknownRole",
    "ValidatorKey",
    "VerificationFailure",
    "VerifiedConsentReceipt",
    "VerifiedCredential",
    "account_id_from_public_key",
    "admission_error",
    "block_hash",
    "build_transaction",
    "decode_event",
    "error_for_receipt",
    "from_hex",
    "from_rpc_error",
    "issue_credential",
    "load_key",
    "module_error_class",
    "quorum",
    "raise_for_receipt",
    "recover_public_key",
    "recover_signer",
    "save_key",
    "sign_vote",
    "tls_credentials",
    "to_hex",
    "transaction_hash",
    "validator_keys",
    "verify_block",
    "verify_commit_certificate",
    "verify_consent_receipt",
    "verify_credential",
    "verify_state_proof",
    "verify_transaction",
]
