//! Who is calling, and what they may touch: the authorization rules of the REST API.
//!
//! Wrong role: 403. Someone else's order: 404 (its existence is not disclosed). A path that
//! names another store or rider: 403. No or bad token: 401.

use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::future::{ready, Ready};

use crate::auth::{Authenticator, Identity, Role};
use crate::domain::order::Order;
use crate::domain::{CustomerId, RiderId, StoreId};

use super::error::ApiError;
use super::ws::authenticate;

/// The authenticated caller of a request.
#[derive(Clone, Copy, Debug)]
pub struct Caller(pub Identity);

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let Some(auth) = req.app_data::<web::Data<Arc<dyn Authenticator>>>() else {
            return ready(Err(ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "no authenticator")));
        };
        ready(authenticate(req, auth.as_ref().as_ref()).map(|credentials| Caller(credentials.identity)))
    }
}

fn forbidden(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
}

impl Caller {
    pub fn role(&self) -> Role {
        self.0.role
    }

    pub fn is_operator(&self) -> bool {
        self.0.role == Role::Operator
    }

    pub fn require(&self, role: Role) -> Result<(), ApiError> {
        if self.0.role == role {
            Ok(())
        } else {
            Err(forbidden(format!("this needs a {} token", role.as_str())))
        }
    }

    pub fn require_operator(&self) -> Result<(), ApiError> {
        self.require(Role::Operator)
    }

    /// Staff of `store`, or an operator.
    pub fn acts_for_store(&self, store: StoreId) -> Result<(), ApiError> {
        match self.0.role {
            Role::Operator => Ok(()),
            Role::Store if self.0.subject == store.as_uuid() => Ok(()),
            Role::Store => Err(forbidden("this is another store")),
            _ => Err(forbidden("this needs a store token")),
        }
    }

    /// The rider `rider` itself (or, where `operator_too`, an operator).
    pub fn acts_as_rider(&self, rider: RiderId, operator_too: bool) -> Result<(), ApiError> {
        match self.0.role {
            Role::Operator if operator_too => Ok(()),
            Role::Rider if self.0.subject == rider.as_uuid() => Ok(()),
            Role::Rider => Err(forbidden("this is another rider")),
            _ => Err(forbidden("this needs the rider's own token")),
        }
    }

    pub fn customer(&self) -> Option<CustomerId> {
        (self.0.role == Role::Customer).then(|| CustomerId::from_uuid(self.0.subject))
    }

    /// Its customer, its store, the rider offered or carrying it, and operators.
    pub fn can_see(&self, order: &Order) -> bool {
        let me = self.0.subject;
        match self.0.role {
            Role::Operator => true,
            Role::Customer => order.terms.customer_id.as_uuid() == me,
            Role::Store => order.terms.store_id.as_uuid() == me,
            Role::Rider => order.rider().is_some_and(|r| r.as_uuid() == me),
        }
    }

    /// `order` if the caller may see it; 404 otherwise, as if it did not exist.
    pub fn visible(&self, order: Order) -> Result<Order, ApiError> {
        if self.can_see(&order) {
            Ok(order)
        } else {
            Err(ApiError::not_found("order"))
        }
    }
}
