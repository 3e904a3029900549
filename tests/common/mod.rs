//! Test support: a fresh database per test (SQLite file or PostgreSQL database), the real
//! server binary started on a random port against it, a small client for its API, and an
//! in-process application for tests that talk to the actors directly.
#![allow(dead_code)]

pub mod city;
pub mod db;
pub mod faults;
pub mod inproc;
pub mod junk;
pub mod server;
pub mod ws;

#[allow(unused_imports)]
pub use db::{Backend, TestDb};
#[allow(unused_imports)]
pub use server::TestServer;

/// Generate one `#[tokio::test]` per backend for each async fn taking a `Backend`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::common::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::common::Backend::Postgres).await
                }
            )*
        }
    };
}
