//! Orders: the customer places, tracks and cancels.

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::actors::{CommandError, Execute, QuoteOrder};
use crate::auth::Role;
use crate::domain::order::{Canceller, OrderCommand, OrderError};
use crate::domain::{CustomerId, GeoPoint, IdempotencyKey, ItemId, OrderId, StoreId};
use crate::http::caller::Caller;
use crate::http::error::ApiError;
use crate::http::extract::{Json, OptionalJson};
use crate::http::limits::Limits;
use crate::http::openapi::{ApiErrors, ErrorResponse, Point};
use crate::http::orders_access;
use crate::http::views::OrderView;

use super::{id, Ctx};

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(place).service(get).service(cancel);
}

#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Line {
    #[schema(value_type = uuid::Uuid)]
    item_id: ItemId,
    #[serde(deserialize_with = "crate::http::extract::whole")]
    #[schema(minimum = 1, maximum = 99)]
    quantity: u32,
}

#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct PlaceOrder {
    /// The caller's own id; taken from the token when absent.
    #[serde(default)]
    #[schema(value_type = Option<uuid::Uuid>)]
    customer_id: Option<CustomerId>,
    #[schema(value_type = uuid::Uuid)]
    store_id: StoreId,
    #[schema(min_items = 1, max_items = 50)]
    items: Vec<Line>,
    #[schema(value_type = Point)]
    delivery_point: GeoPoint,
}

/// FNV-1a over the canonical request: tells a retry (same body) from a reused key.
fn fingerprint(request: &PlaceOrder) -> String {
    let canonical = serde_json::to_vec(request).unwrap_or_default();
    let hash =
        canonical.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3));
    format!("{hash:016x}")
}

/// The answer to a placement whose order already exists under this key.
fn replay(existing: &crate::domain::order::Order, fingerprint: &str) -> Result<HttpResponse, ApiError> {
    if existing.terms.request_fingerprint != fingerprint {
        return Err(ApiError::new(
            actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
            "this Idempotency-Key was used for a different order",
        )
        .field("Idempotency-Key"));
    }
    Ok(HttpResponse::Ok().insert_header(("Idempotent-Replayed", "true")).json(OrderView::from(existing)))
}

#[utoipa::path(tag = "orders", operation_id = "orders_place", params(("Idempotency-Key" = String, Header, description = "Makes the placement safe to retry")), request_body = PlaceOrder, responses((status = 201, description = "Placed", body = OrderView), (status = 200, description = "A replay of the same request", body = OrderView), (status = 429, description = "Rate limited", body = ErrorResponse), ApiErrors), security(("bearer" = [])))]
#[post("/orders")]
#[tracing::instrument(skip_all, fields(order))]
async fn place(
    platform: Ctx,
    caller: Caller,
    limits: web::Data<Limits>,
    req: HttpRequest,
    body: Json<PlaceOrder>,
) -> Result<HttpResponse, ApiError> {
    let customer = caller.customer().ok_or_else(|| {
        ApiError::new(actix_web::http::StatusCode::FORBIDDEN, "forbidden", "orders are placed with a customer token")
    })?;
    limits.order(customer.as_uuid(), req.peer_addr().map(|a| a.ip()))?;
    let raw_key = req.headers().get("Idempotency-Key").ok_or_else(|| {
        ApiError::bad_request("missing_header", "the Idempotency-Key header is required").field("Idempotency-Key")
    })?;
    let key = raw_key
        .to_str()
        .map_err(|_| ApiError::invalid("Idempotency-Key", "must be printable ASCII"))
        .and_then(|raw| IdempotencyKey::parse(raw).map_err(|e| ApiError::invalid("Idempotency-Key", e.message)))?;
    let mut request = body.0;
    if request.customer_id.is_some_and(|id| id != customer) {
        return Err(ApiError::new(
            actix_web::http::StatusCode::FORBIDDEN,
            "forbidden",
            "customer_id must be the caller's own",
        )
        .field("customer_id"));
    }
    request.customer_id = Some(customer);
    let fingerprint = fingerprint(&request);
    let order_id = OrderId::for_idempotency_key(customer, &key);
    tracing::Span::current().record("order", tracing::field::display(order_id));

    // A retry returns the first order, whatever has happened since.
    if let Some(existing) = match orders_access::load(&platform, order_id).await {
        Ok(order) => Some(order),
        Err(e) if e.status == actix_web::http::StatusCode::NOT_FOUND => None,
        Err(e) => return Err(e),
    } {
        return replay(&existing, &fingerprint);
    }

    // While the payment provider is down, refuse at once rather than take an order that
    // cannot be paid for.
    if !platform.gateway.available() {
        return Err(ApiError::new(
            actix_web::http::StatusCode::SERVICE_UNAVAILABLE,
            "payment_unavailable",
            "the payment provider is unavailable; retry shortly",
        ));
    }
    let store = platform
        .find_store(request.store_id)
        .await
        .map_err(CommandError::from)?
        .ok_or_else(|| ApiError::invalid("store_id", "no such store"))?;
    let items: Vec<(ItemId, u32)> = request.items.iter().map(|l| (l.item_id, l.quantity)).collect();
    let (quote, store) =
        store.send(QuoteOrder { items, dropoff: request.delivery_point }).await.map_err(CommandError::from)??;
    let terms = quote.into_terms(&store, customer, request.delivery_point, fingerprint.clone());
    match platform
        .start_order(order_id)
        .send(Execute::new(OrderCommand::Place(terms)))
        .await
        .map_err(CommandError::from)?
    {
        Ok(order) => Ok(HttpResponse::Created()
            .insert_header(("Location", format!("/v1/orders/{order_id}")))
            .json(OrderView::from(&order))),
        // Lost a race with a concurrent retry of the same request.
        Err(CommandError::Order(OrderError::AlreadyPlaced)) => {
            replay(&orders_access::load(&platform, order_id).await?, &fingerprint)
        }
        Err(other) => Err(other.into()),
    }
}

#[utoipa::path(tag = "orders", operation_id = "orders_get", params(("order" = uuid::Uuid, Path)), responses((status = 200, description = "The order", body = OrderView), ApiErrors), security(("bearer" = [])))]
#[get("/orders/{order}")]
#[tracing::instrument(skip_all)]
async fn get(platform: Ctx, caller: Caller, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let order_id: OrderId = id(&path, "order")?;
    let order = caller.visible(orders_access::load(&platform, order_id).await?)?;
    Ok(HttpResponse::Ok().json(OrderView::from(&order)))
}

#[derive(Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
struct CancelRequest {
    /// Required from an operator; a customer's cancellation needs none.
    #[serde(default)]
    reason: Option<String>,
}

/// The customer cancels until the store accepts (full refund); an operator cancels any live
/// order, with a reason. Stores cancel through their own route.
#[utoipa::path(tag = "orders", operation_id = "orders_cancel", params(("order" = uuid::Uuid, Path)), request_body = CancelRequest, responses((status = 200, description = "Cancelled", body = OrderView), ApiErrors), security(("bearer" = [])))]
#[post("/orders/{order}/cancel")]
#[tracing::instrument(skip_all)]
async fn cancel(
    platform: Ctx,
    caller: Caller,
    path: web::Path<String>,
    body: OptionalJson<CancelRequest>,
) -> Result<HttpResponse, ApiError> {
    let order_id: OrderId = id(&path, "order")?;
    caller.visible(orders_access::load(&platform, order_id).await?)?;
    let canceller = match caller.role() {
        Role::Customer => Canceller::Customer,
        Role::Operator => Canceller::Operator { reason: body.0.reason.unwrap_or_default() },
        _ => {
            return Err(ApiError::new(
                actix_web::http::StatusCode::FORBIDDEN,
                "forbidden",
                "stores cancel through /v1/stores/{store}/orders/{order}/cancel",
            ))
        }
    };
    let order = orders_access::execute(&platform, order_id, OrderCommand::Cancel(canceller)).await?;
    Ok(HttpResponse::Ok().json(OrderView::from(&order)))
}
