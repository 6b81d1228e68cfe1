//! The chain of trust operator → account → user, as nats-server follows it
//! (nats-io/jwt `OperatorClaims.DidSign`, `AccountClaims.DidSign`,
//! `UserScope.ValidateScopedSigner`; nats-server `validateTrustedOperators` in
//! `server/jwt.go`, `isRevoked` in `server/accounts.go`).

use super::findings::Code;
use super::inputs::Context;
use super::token::is_key;
use crate::claims::{Permissions, USER_SCOPE_KIND};
use crate::nkey::Role;

/// Runs every chain check over what `ctx` loaded.
pub(crate) fn evaluate(ctx: &mut Context) {
    operators(ctx);
    accounts(ctx);
    users(ctx);
    system_account(ctx);
}

fn operators(ctx: &mut Context) {
    for op in ctx.operators.clone() {
        let what = op.describe();
        if op.issuer() != op.subject() {
            ctx.push(
                Code::ChainOperatorNotSelfSigned,
                &op.location,
                format!(
                    "{what} is signed by {}: nats-server trusts that key (and the signing keys), not the operator's own",
                    op.issuer()
                ),
            );
        }
        for key in &op.claims.nats.signing_keys {
            if !is_key(key, Role::Operator) {
                ctx.push(
                    Code::ChainSigningKeyInvalid,
                    &op.location,
                    format!("{what}: signing key {key:?} is not an operator public key"),
                );
            }
        }
        let system = &op.claims.nats.system_account;
        if !system.is_empty() && !is_key(system, Role::Account) {
            ctx.push(
                Code::ChainSigningKeyInvalid,
                &op.location,
                format!("{what}: system_account {system:?} is not an account public key"),
            );
        }
    }
}

fn accounts(ctx: &mut Context) {
    // Only operators whose own signature verified can vouch for accounts.
    let operators: Vec<_> = ctx
        .operators
        .iter()
        .filter(|o| o.signature_ok)
        .cloned()
        .collect();
    let any_operator = !ctx.operators.is_empty();
    for account in ctx.accounts.clone() {
        let what = account.describe();
        let issuer = account.issuer().to_string();
        if issuer == account.subject() {
            ctx.push(
                Code::ChainAccountSelfSigned,
                &account.location,
                format!("{what} is signed by its own key, not by an operator"),
            );
        } else if !any_operator {
            ctx.push(
                Code::ChainIncomplete,
                &account.location,
                format!("{what}: no operator JWT among the inputs, so its issuer {issuer} was not checked"),
            );
        } else {
            let signer = operators
                .iter()
                .find(|op| op.subject() == issuer || op.claims.nats.signing_keys.contains(&issuer));
            match signer {
                None => ctx.push(
                    Code::ChainAccountUntrusted,
                    &account.location,
                    format!("{what} is signed by {issuer}, which no operator given lists"),
                ),
                Some(op) if op.claims.nats.strict_signing_key_usage && op.subject() == issuer => {
                    ctx.push(
                        Code::ChainStrictSigningKey,
                        &account.location,
                        format!("{what} is signed by the operator's identity key under strict_signing_key_usage"),
                    )
                }
                Some(_) => {}
            }
        }
        for key in &account.claims.nats.signing_keys {
            if !is_key(key.key(), Role::Account) {
                ctx.push(
                    Code::ChainSigningKeyInvalid,
                    &account.location,
                    format!(
                        "{what}: signing key {:?} is not an account public key",
                        key.key()
                    ),
                );
            }
            if let Some(scope) = key.scope() {
                if scope.kind != USER_SCOPE_KIND {
                    ctx.push(
                        Code::ChainScopeKindUnknown,
                        &account.location,
                        format!(
                            "{what}: signing key {} has scope kind {:?}",
                            scope.key, scope.kind
                        ),
                    );
                }
            }
        }
    }
}

fn restricts_nothing(permissions: &Permissions) -> bool {
    permissions.publish.is_empty() && permissions.subscribe.is_empty()
}

fn users(ctx: &mut Context) {
    let operators: Vec<_> = ctx
        .operators
        .iter()
        .filter(|o| o.signature_ok)
        .cloned()
        .collect();
    // Only accounts whose own signature verified can vouch for users.
    let accounts: Vec<_> = ctx
        .accounts
        .iter()
        .filter(|a| a.signature_ok)
        .cloned()
        .collect();
    for user in ctx.users.clone() {
        let what = user.describe();
        let issuer = user.issuer().to_string();
        let issuer_account = user.claims.nats.issuer_account.clone();
        let account_key = if issuer_account.is_empty() {
            issuer.clone()
        } else {
            issuer_account.clone()
        };
        let Some(account) = accounts.iter().find(|a| a.subject() == account_key) else {
            let signing_key_of = accounts
                .iter()
                .find(|a| a.claims.nats.signing_key(&issuer).is_some());
            if let (true, Some(account)) = (issuer_account.is_empty(), signing_key_of) {
                ctx.push(
                    Code::ChainIssuerAccountMissing,
                    &user.location,
                    format!(
                        "{what} is signed by a signing key of {} but has no issuer_account",
                        account.describe()
                    ),
                );
            } else if ctx.all_accounts && !accounts.is_empty() {
                ctx.push(
                    Code::ChainAccountUnknown,
                    &user.location,
                    format!("{what}: its account {account_key} is not among the inputs"),
                );
            } else {
                ctx.push(
                    Code::ChainIncomplete,
                    &user.location,
                    format!("{what}: the account JWT of {account_key} is not among the inputs, so trust was not checked"),
                );
            }
            continue;
        };
        let mut effective = user.claims.nats.permissions.clone();
        if issuer == account.subject() {
            // nats-server leaves the identity key out of the user issuers of an account
            // signed by a signing key of a strict operator (`UpdateAccountClaimsWithRefresh`).
            let strict = operators.iter().find(|op| {
                op.claims.nats.strict_signing_key_usage
                    && op
                        .claims
                        .nats
                        .signing_keys
                        .iter()
                        .any(|k| k == account.issuer())
            });
            if let Some(op) = strict {
                ctx.push(
                    Code::ChainStrictSigningKey,
                    &user.location,
                    format!(
                        "{what} is signed by the identity key of {}, whose operator {} sets strict_signing_key_usage: nats-server refuses it",
                        account.describe(),
                        op.subject()
                    ),
                );
            }
        } else {
            match account.claims.nats.signing_key(&issuer) {
                None => {
                    ctx.push(
                        Code::ChainUserUntrusted,
                        &user.location,
                        format!(
                            "{what} is signed by {issuer}, which is not {} nor one of its signing keys",
                            account.describe()
                        ),
                    );
                    continue;
                }
                Some(key) => {
                    if let Some(scope) = key.scope() {
                        if !user.claims.nats.permissions.is_empty() {
                            ctx.push(
                                Code::ChainScopedUserHasPermissions,
                                &user.location,
                                format!(
                                    "{what} is signed by the scoped key of role {:?} but sets its own permissions or limits",
                                    scope.role
                                ),
                            );
                        }
                        effective = scope.template.clone();
                    }
                }
            }
        }
        if account
            .claims
            .nats
            .is_revoked(user.subject(), user.claims.data.issued_at)
        {
            ctx.push(
                Code::ChainUserRevoked,
                &user.location,
                format!("{what} is revoked by {}", account.describe()),
            );
        }
        if effective.bearer_token && account.claims.nats.limits.account.disallow_bearer {
            ctx.push(
                Code::ChainBearerDisallowed,
                &user.location,
                format!(
                    "{what} is a bearer token; {} disallows them",
                    account.describe()
                ),
            );
        }
        let mut permissions = effective.permissions;
        if restricts_nothing(&permissions) {
            permissions = account.claims.nats.default_permissions.clone();
        }
        if restricts_nothing(&permissions) {
            ctx.push(
                Code::PermAllowAll,
                &user.location,
                format!("{what} may publish and subscribe to every subject"),
            );
        }
    }
}

fn system_account(ctx: &mut Context) {
    if !ctx.all_accounts || ctx.accounts.is_empty() {
        return;
    }
    for op in ctx.operators.clone() {
        let system = ctx
            .config_system_account
            .clone()
            .unwrap_or_else(|| op.claims.nats.system_account.clone());
        if !system.is_empty() && !ctx.accounts.iter().any(|a| a.subject() == system) {
            ctx.push(
                Code::ChainSystemAccountMissing,
                &op.location,
                format!("system account {system} is not among the accounts given"),
            );
        }
    }
}
