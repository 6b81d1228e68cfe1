//! What [`super::check`] can find: stable codes, severities and kinds.

use serde::Serialize;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing; nothing is wrong.
    Info,
    /// Works, but departs from the upstream formats or is risky.
    Warning,
    /// Broken, untrusted or unsafe: nats-server refuses it, or accepts it wrongly.
    Error,
}

/// The stable kind of a finding, which decides the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// The bytes do not decode.
    Malformed,
    /// A signature does not verify.
    InvalidSignature,
    /// A signer is not trusted by the chain operator → account → user.
    Untrusted,
    /// Outside its validity period.
    Expired,
    /// Revoked by its account.
    Revoked,
    /// Accepted by nats-server, but wider or weaker than it looks.
    Permissive,
    /// A departure from the upstream file layout.
    Layout,
    /// The chain could not be followed with the files given.
    Incomplete,
}

macro_rules! codes {
    ($( $(#[$doc:meta])* $variant:ident = $id:literal, $severity:ident, $kind:ident, $summary:literal; )*) => {
        /// A finding's code. The id strings are stable and part of the JSON output.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum Code {
            $( $(#[$doc])* $variant, )*
        }

        impl Code {
            /// Every code, in documentation order.
            pub const ALL: &'static [Code] = &[$(Code::$variant),*];

            /// The stable id, e.g. `chain.account_self_signed`.
            pub fn id(self) -> &'static str {
                match self { $(Code::$variant => $id,)* }
            }

            /// The severity.
            pub fn severity(self) -> Severity {
                match self { $(Code::$variant => Severity::$severity,)* }
            }

            /// The kind.
            pub fn kind(self) -> Kind {
                match self { $(Code::$variant => Kind::$kind,)* }
            }

            /// One line on what the code means.
            pub fn summary(self) -> &'static str {
                match self { $(Code::$variant => $summary,)* }
            }
        }
    };
}

codes! {
    /// A JWT does not decode.
    JwtMalformed = "jwt.malformed", Error, Malformed,
        "a JWT is not three base64url segments with a JSON header, JSON claims and a 64-byte signature";
    /// The header is accepted by nats-io/jwt but is not exactly the v2 header.
    JwtHeaderNonCanonical = "jwt.header_noncanonical", Warning, Layout,
        "the header is not exactly {\"typ\":\"JWT\",\"alg\":\"ed25519-nkey\"} (nats-io/jwt compares case-insensitively)";
    /// A legacy v1 JWT.
    JwtV1 = "jwt.v1", Warning, Permissive,
        "a legacy v1 JWT (type at the top of the claims, usually header alg \"ed25519\"): its signature covers the payload only, and nats-server still accepts it";
    /// No claim type.
    JwtTypeMissing = "jwt.type_missing", Error, Malformed,
        "no nats.type: nats-io/jwt decodes it as generic claims and checks the signature over the payload only";
    /// A claim type this checker does not follow.
    JwtTypeOther = "jwt.type_other", Info, Incomplete,
        "a claim type other than operator, account or user (activation, authorization, generic) is not checked further";
    /// `nats.version` other than 2 in claims that are not v1.
    JwtVersionUnsupported = "jwt.version_unsupported", Error, Malformed,
        "nats.version is not 2 and the claims are not v1 (no top-level type): nats-io/jwt refuses them";
    /// Claims of the wrong JSON types.
    JwtClaimsInvalid = "jwt.claims_invalid", Error, Malformed,
        "the claims do not have the JSON types nats-io/jwt expects, so nats-server cannot decode them";
    /// The signature does not verify.
    JwtSignatureInvalid = "jwt.signature_invalid", Error, InvalidSignature,
        "the signature does not verify with the key named in iss";
    /// The issuer key is missing, malformed or of a role that cannot sign this type.
    JwtIssuerInvalid = "jwt.issuer_invalid", Error, Untrusted,
        "iss is not a public nkey of a role allowed to sign this claim type";
    /// The subject key is malformed or of the wrong role.
    JwtSubjectInvalid = "jwt.subject_invalid", Error, Malformed,
        "sub is not a public nkey of the role this claim type needs";
    /// `jti` is not what nats-io/jwt computes.
    JwtIdMismatch = "jwt.jti_mismatch", Warning, Layout,
        "jti is not base32(SHA-512/256(JSON of the registered claims with jti empty)): not written by nats-io/jwt, or edited";
    /// Expired.
    JwtExpired = "jwt.expired", Error, Expired,
        "exp is in the past";
    /// Not yet valid.
    JwtNotYetValid = "jwt.not_yet_valid", Error, Expired,
        "nbf is in the future";
    /// An unknown member outside the permissions.
    JwtUnknownField = "jwt.unknown_field", Warning, Permissive,
        "a member nats-io/jwt does not know; nats-server ignores it";
    /// An unknown member inside a user's permissions, a scope template or default
    /// permissions.
    PermUnknownField = "perm.unknown_field", Error, Permissive,
        "a permission member nats-server ignores (e.g. \"publish\" for \"pub\"): the restriction it was meant to express is not applied";
    /// A user that may publish and subscribe anywhere.
    PermAllowAll = "perm.allow_all", Warning, Permissive,
        "the user JWT, its scope and the account's default permissions restrict nothing: the user may publish and subscribe to every subject";
    /// The operator JWT is not self-signed.
    ChainOperatorNotSelfSigned = "chain.operator_not_self_signed", Error, Untrusted,
        "the operator JWT is not signed by its own key; nats-server trusts the issuer key instead of the operator";
    /// A signing key of the wrong role.
    ChainSigningKeyInvalid = "chain.signing_key_invalid", Error, Malformed,
        "a signing key (or system_account) is not a public nkey of the right role";
    /// A self-signed account.
    ChainAccountSelfSigned = "chain.account_self_signed", Error, Untrusted,
        "the account JWT is signed by the account itself, not by its operator";
    /// An account signed by a key the operator does not list.
    ChainAccountUntrusted = "chain.account_untrusted", Error, Untrusted,
        "the account is signed by a key that is neither the operator nor one of its signing keys";
    /// An account signed by the operator identity under strict signing key usage.
    ChainStrictSigningKey = "chain.strict_signing_key", Error, Untrusted,
        "the operator requires signing keys (strict_signing_key_usage) but the account is signed by the operator's identity key, or a user by its account's identity key";
    /// A scope kind nats-io/jwt does not know.
    ChainScopeKindUnknown = "chain.scope_kind_unknown", Error, Malformed,
        "a scoped signing key whose kind is not \"user_scope\": nats-io/jwt cannot decode the account";
    /// The user's account is not among the inputs.
    ChainAccountUnknown = "chain.account_unknown", Error, Untrusted,
        "the user's issuer (or issuer_account) is none of the accounts given";
    /// A user signed by a key its account does not list.
    ChainUserUntrusted = "chain.user_untrusted", Error, Untrusted,
        "the user is signed by a key that is neither its account nor one of the account's signing keys";
    /// A user signed by a signing key without `issuer_account`.
    ChainIssuerAccountMissing = "chain.issuer_account_missing", Error, Untrusted,
        "the user is signed by an account signing key but has no issuer_account, so nats-server cannot find its account";
    /// A user of a scoped signing key that carries its own permissions or limits.
    ChainScopedUserHasPermissions = "chain.scoped_user_has_permissions", Error, Untrusted,
        "the user is signed by a scoped signing key but carries its own permissions or limits; nats-io/jwt refuses it";
    /// A bearer token where the account disallows them.
    ChainBearerDisallowed = "chain.bearer_disallowed", Error, Untrusted,
        "the user is a bearer token but its account sets disallow_bearer";
    /// Revoked.
    ChainUserRevoked = "chain.user_revoked", Error, Revoked,
        "the account revokes the user's key (or *) at or after the user JWT's iat";
    /// The operator's system account is missing.
    ChainSystemAccountMissing = "chain.system_account_missing", Warning, Incomplete,
        "the operator's system_account is not among the accounts given";
    /// A link of the chain was not given.
    ChainIncomplete = "chain.incomplete", Info, Incomplete,
        "a link of the chain is not among the files given, so trust was checked only up to there";
    /// A `.creds` file does not parse.
    CredsMalformed = "creds.malformed", Error, Malformed,
        "a .creds file has no decorated JWT, or no valid user seed";
    /// A `.creds` file departs from the upstream layout.
    CredsLayout = "creds.layout", Warning, Layout,
        "a .creds file departs from the layout nats-io/jwt FormatUserConfig writes";
    /// The seed is not the JWT subject's.
    CredsSeedMismatch = "creds.seed_mismatch", Error, Untrusted,
        "the seed in a .creds file is not the key of the user JWT's sub";
    /// The `.creds` JWT is not a user JWT.
    CredsNotUser = "creds.not_user", Error, Malformed,
        "the JWT in a .creds file is not a user JWT";
    /// An NSC store descriptor problem.
    StoreInvalid = "store.invalid", Error, Malformed,
        "an NSC store's .nsc file or operator JWT is missing or does not match the store";
    /// A JWT stored under a name that does not match its claims.
    StoreNameMismatch = "store.name_mismatch", Warning, Layout,
        "a JWT is stored under a file or directory name that is not its name claim (nsc files by name)";
    /// A key file whose name is not its seed's public key.
    StoreKeyMismatch = "store.key_mismatch", Error, Malformed,
        "a key file does not hold a seed whose public key is its file name, in nsc's keys/<K>/<XY>/ directory";
    /// A secret file readable by others.
    StoreFileMode = "store.file_mode", Warning, Permissive,
        "a key or .creds file may be read by the group or others (nsc writes 0600)";
    /// A config file that does not parse.
    ConfigMalformed = "config.malformed", Error, Malformed,
        "the nats-server config does not parse";
    /// A config without operator mode.
    ConfigOperatorMissing = "config.operator_missing", Error, Malformed,
        "the nats-server config has no operator, or it cannot be read";
    /// A config without a resolver.
    ConfigResolverMissing = "config.resolver_missing", Error, Malformed,
        "operator mode without a resolver: nats-server refuses to start";
    /// A preload entry whose key is not its JWT's subject.
    ConfigPreloadMismatch = "config.preload_mismatch", Error, Malformed,
        "a resolver_preload key is not the public key of its account JWT; nats-server refuses to start";
    /// Something in the config this checker does not follow.
    ConfigUnfollowed = "config.unfollowed", Info, Incomplete,
        "an include, a $variable or a URL resolver is not followed";
}
