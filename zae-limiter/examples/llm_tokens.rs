//! Rate-limit LLM calls by requests and tokens, reconciling the token estimate after
//! the call — the way zae-limiter is used from Python, from Rust.
//!
//! Against the local emulator (from the workspace root):
//!
//! ```sh
//! .dev/bin/moto_server -p 5055 &
//! AWS_ENDPOINT_URL=http://127.0.0.1:5055 AWS_REGION=us-east-1 \
//! AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing \
//!   cargo run -p zae-limiter --example llm_tokens -- --bootstrap
//! ```
//!
//! Without `--bootstrap` it expects a deployed stack (`ZAEL_STACK`, default
//! `zae-limiter`) with a registered namespace (`ZAEL_NAMESPACE`, default `default`).

use zae_limiter::admin::NewEntity;
use zae_limiter::{Error, Limit, RateLimiter, Repository, Table};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest()).load().await;
    let stack = std::env::var("ZAEL_STACK").unwrap_or_else(|_| "zae-limiter".into());
    let namespace = std::env::var("ZAEL_NAMESPACE").unwrap_or_else(|_| "default".into());

    if std::env::args().any(|a| a == "--bootstrap") {
        // What `zae-limiter deploy` (or the Terraform provider) does for the data plane.
        let table = Table::from_config(&config, &stack);
        match table.create_table().await {
            Ok(()) | Err(Error::DynamoDb { .. }) => {} // already exists
            Err(e) => return Err(e),
        }
        table.write_version_record(None, "example").await?;
        let ns = table.namespace(&table.register_namespace(&namespace).await?);
        ns.set_system_limits(
            &[
                Limit::per_minute("rpm", 5, None)?,
                Limit::per_minute("tpm", 2_000, None)?,
            ],
            None,
            None,
        )
        .await?;
        match ns.create_entity(&NewEntity::new("api-key-123"), None).await {
            Ok(_) | Err(Error::EntityExists { .. }) => {}
            Err(e) => return Err(e),
        }
    }

    let repo = Repository::connect(&stack, &namespace, &config).await?;
    let limiter = RateLimiter::new(repo);
    for call in 1..=7 {
        match limiter
            .acquire("api-key-123", "gpt-4")
            .consume([("rpm", 1), ("tpm", 500)])
            .await
        {
            Ok(lease) => {
                let used_tokens = 320; // what the model actually used
                lease.adjust([("tpm", used_tokens - 500)]).await?;
                lease.commit().await?;
                println!("call {call}: admitted, used {used_tokens} tokens");
            }
            Err(Error::RateLimited(rl)) => {
                println!(
                    "call {call}: rejected — {rl} (Retry-After: {})",
                    rl.retry_after_header()
                );
            }
            Err(other) => return Err(other),
        }
    }
    println!("remaining: {:?}", limiter.available("api-key-123", "gpt-4").await?);
    Ok(())
}
