//! The Pro API's calls on [`Client`] (`/pro/api/*`); the client carries a Pro JWT or a
//! `tm_pro_` token as its Bearer token.

use reqwest::Method;
use uuid::Uuid;

use crate::client::{Client, ClientError};
use crate::pro::*;
use crate::types::MessageList;

impl Client {
    /// `POST /pro/api/login`: a Pro JWT for an email and password.
    pub async fn pro_login(&self, login: &ProLogin) -> Result<ProSession, ClientError> {
        self.json(Method::POST, "/pro/api/login", Some(login)).await
    }

    /// `GET /pro/api/accounts?page=N`: 100 mailboxes a page, newest first.
    pub async fn pro_accounts(&self, page: u32) -> Result<ProAccountList, ClientError> {
        let path = format!("/pro/api/accounts?page={page}");
        self.json(Method::GET, &path, None::<&()>).await
    }

    /// `DELETE /pro/api/accounts/{id}`.
    pub async fn pro_delete_account(&self, id: Uuid) -> Result<(), ClientError> {
        self.empty(Method::DELETE, &format!("/pro/api/accounts/{id}"))
            .await
    }

    /// `PUT /pro/api/accounts/{id}/reset-password`.
    pub async fn pro_reset_password(&self, id: Uuid, password: &str) -> Result<PasswordReset, ClientError> {
        let path = format!("/pro/api/accounts/{id}/reset-password");
        let body = NewPassword {
            password: password.to_string(),
        };
        self.json(Method::PUT, &path, Some(&body)).await
    }

    /// `GET /pro/api/accounts/{id}/messages?page=N`.
    pub async fn pro_messages(&self, id: Uuid, page: u32) -> Result<MessageList, ClientError> {
        let path = format!("/pro/api/accounts/{id}/messages?page={page}");
        self.json(Method::GET, &path, None::<&()>).await
    }

    /// `GET /pro/api/domains`.
    pub async fn pro_domains(&self) -> Result<Vec<CustomDomain>, ClientError> {
        let list: CustomDomainList = self.json(Method::GET, "/pro/api/domains", None::<&()>).await?;
        Ok(list.domains)
    }

    /// `POST /pro/api/domains`: the domain and the DNS records to set.
    pub async fn pro_add_domain(&self, domain: &str) -> Result<CreatedDomain, ClientError> {
        let body = NewDomain {
            domain: domain.to_string(),
        };
        self.json(Method::POST, "/pro/api/domains", Some(&body)).await
    }

    /// `POST /pro/api/domains/{id}/verify`: asks DNS now.
    pub async fn pro_verify_domain(&self, id: Uuid) -> Result<DomainCheck, ClientError> {
        let path = format!("/pro/api/domains/{id}/verify");
        self.json(Method::POST, &path, None::<&()>).await
    }

    /// `DELETE /pro/api/domains/{id}`: the domain's mailboxes go with it.
    pub async fn pro_delete_domain(&self, id: Uuid) -> Result<(), ClientError> {
        self.empty(Method::DELETE, &format!("/pro/api/domains/{id}"))
            .await
    }

    /// `GET /pro/api/tokens`.
    pub async fn pro_tokens(&self) -> Result<Vec<TokenInfo>, ClientError> {
        let list: TokenList = self.json(Method::GET, "/pro/api/tokens", None::<&()>).await?;
        Ok(list.tokens)
    }

    /// `POST /pro/api/tokens`: the secret, shown this once.
    pub async fn pro_mint_token(&self, name: &str) -> Result<CreatedToken, ClientError> {
        let body = NewToken {
            name: name.to_string(),
        };
        self.json(Method::POST, "/pro/api/tokens", Some(&body)).await
    }

    /// `DELETE /pro/api/tokens/{id}`.
    pub async fn pro_revoke_token(&self, id: Uuid) -> Result<(), ClientError> {
        self.empty(Method::DELETE, &format!("/pro/api/tokens/{id}")).await
    }

    /// `GET /pro/api/webhooks`.
    pub async fn pro_webhooks(&self) -> Result<Vec<Webhook>, ClientError> {
        let list: WebhookList = self.json(Method::GET, "/pro/api/webhooks", None::<&()>).await?;
        Ok(list.webhooks)
    }

    /// `POST /pro/api/webhooks`.
    pub async fn pro_create_webhook(&self, hook: &NewWebhook) -> Result<Webhook, ClientError> {
        self.json(Method::POST, "/pro/api/webhooks", Some(hook)).await
    }

    /// `DELETE /pro/api/webhooks/{id}`.
    pub async fn pro_delete_webhook(&self, id: Uuid) -> Result<(), ClientError> {
        self.empty(Method::DELETE, &format!("/pro/api/webhooks/{id}"))
            .await
    }

    /// `POST /pro/api/webhooks/{id}/rotate`: the webhook with a new secret.
    pub async fn pro_rotate_webhook(&self, id: Uuid) -> Result<Webhook, ClientError> {
        let path = format!("/pro/api/webhooks/{id}/rotate");
        self.json(Method::POST, &path, None::<&()>).await
    }

    /// `GET /pro/api/webhooks/{id}/deliveries?page=N`, newest first.
    pub async fn pro_deliveries(&self, id: Uuid, page: u32) -> Result<WebhookDeliveryList, ClientError> {
        let path = format!("/pro/api/webhooks/{id}/deliveries?page={page}");
        self.json(Method::GET, &path, None::<&()>).await
    }
}
