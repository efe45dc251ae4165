//! Rate-limits against a stack that Terraform built: connects to the table, then acquires
//! until the limit Terraform set rejects a request, and prints what the limiter reports.
//!
//! `scripts/quickstart.sh` runs it after `terraform apply` on `examples/quickstart`, with the
//! emulator's endpoint in `AWS_ENDPOINT_URL` and:
//!
//! * `ZAEL_STACK`: the stack (table) name;
//! * `ZAEL_NAMESPACE`: the namespace (default `default`);
//! * `ZAEL_ENTITY` / `ZAEL_RESOURCE`: who and what to rate-limit (default `api-key-123`,
//!   `gpt-4`).

use zae_limiter::{Error, RateLimiter, Repository};

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest()).load().await;
    let stack = env_or("ZAEL_STACK", "zae-limiter");
    let namespace = env_or("ZAEL_NAMESPACE", "default");
    let entity = env_or("ZAEL_ENTITY", "api-key-123");
    let resource = env_or("ZAEL_RESOURCE", "gpt-4");

    let repo = Repository::connect(&stack, &namespace, &config).await?;
    println!(
        "connected to stack {stack:?}, namespace {namespace:?} (id {})",
        repo.namespace_id()
    );
    let limiter = RateLimiter::new(repo);
    let mut admitted = 0;
    for call in 1..=100 {
        match limiter.acquire(&entity, &resource).consume([("rpm", 1)]).await {
            Ok(lease) => {
                lease.commit().await?;
                admitted += 1;
            }
            Err(Error::RateLimited(limited)) => {
                println!("call {call}: rejected after {admitted} admitted: {limited}");
                println!("Retry-After: {} s", limited.retry_after_header());
                println!("remaining: {:?}", limiter.available(&entity, &resource).await?);
                return Ok(());
            }
            Err(other) => return Err(other),
        }
    }
    println!("all 100 calls admitted: the limit is above 100 requests per minute");
    Ok(())
}
