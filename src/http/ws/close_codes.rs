//! The close codes a socket may end with beyond the standard ones, and what an app does on
//! each. Codes 4000-4999 are for applications (RFC 6455, 7.4.2).
//!
//! | code | meaning | the app |
//! | --- | --- | --- |
//! | 4001 | the token expired | refreshes its token, reconnects, and resumes from the snapshot |
//! | 4003 | the token was revoked (logout, a replayed refresh token) | signs in again |
//! | 4029 | too many sockets for this subject or address | closes one it no longer needs |
//!
//! Standard codes used: 1008 (policy: a slow consumer whose queue filled), 1009 (a frame over
//! the size limit), 1001 (heartbeat timeout, server going away), 1002 (protocol error).

use actix_ws::CloseCode;

pub const TOKEN_EXPIRED: u16 = 4001;
pub const TOKEN_REVOKED: u16 = 4003;
pub const TOO_MANY_SOCKETS: u16 = 4029;

pub fn code(raw: u16) -> CloseCode {
    CloseCode::Other(raw)
}
