//! Shared set-up for the integration tests: an emulator with a zae-limiter table, a
//! runner for inline Python scripts against the installed zae-limiter package, and
//! table scans.

#![allow(dead_code)]

pub mod gate;

use std::collections::HashMap;
use std::process::Command;

use aws_sdk_dynamodb::types::AttributeValue;
use zae_limiter::Table;

/// An emulator with one zae-limiter table.
pub struct Env {
    /// The running emulator (stopped on drop).
    pub emulator: testkit::Emulator,
    /// SDK configuration pointing at it.
    pub config: aws_types::SdkConfig,
    /// The table handle.
    pub table: Table,
}

impl Env {
    /// Starts an emulator and creates `table` with the library's definition.
    pub async fn start(table: &str) -> Env {
        Env::with_emulator(
            tokio::task::spawn_blocking(testkit::Emulator::start)
                .await
                .expect("emulator start"),
            table,
        )
        .await
    }

    async fn with_emulator(emulator: testkit::Emulator, table: &str) -> Env {
        let config = emulator.sdk_config().await;
        let table = Table::from_config(&config, table);
        table.create_table().await.expect("create table");
        Env {
            emulator,
            config,
            table,
        }
    }

    /// Runs `body` (Python, inside `async def main():`) with zae-limiter imported and
    /// the emulator's environment; returns what `main()` returns, as JSON.
    pub fn python(&self, body: &str) -> serde_json::Value {
        run_python(&self.emulator, self.table.name(), body)
    }

    /// Every item in the table.
    pub async fn scan(&self) -> Vec<HashMap<String, AttributeValue>> {
        scan(self.table.client(), self.table.name()).await
    }
}

/// See [`Env::python`].
pub fn run_python(emulator: &testkit::Emulator, table: &str, body: &str) -> serde_json::Value {
    let indented: String = body.lines().map(|l| format!("    {l}\n")).collect();
    let script = format!(
        "import asyncio, json, sys\n\
         from datetime import timedelta\n\
         from zae_limiter import Repository, RateLimiter, Limit\n\
         from zae_limiter.exceptions import *\n\
         STACK = {table:?}\n\
         async def main():\n{indented}\n\
         result = asyncio.run(main())\n\
         print('@@RESULT@@' + json.dumps(result))\n"
    );
    let output = Command::new(testkit::dev_tool("python"))
        .arg("-c")
        .arg(&script)
        .envs(emulator.aws_env())
        .output()
        .expect("run python");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "python failed\n--- script ---\n{script}\n--- stderr ---\n{stderr}\n--- stdout ---\n{stdout}"
    );
    let line = stdout
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("@@RESULT@@"))
        .expect("python printed no result");
    serde_json::from_str(line).expect("python result is JSON")
}

/// Every item in `table`.
pub async fn scan(client: &aws_sdk_dynamodb::Client, table: &str) -> Vec<HashMap<String, AttributeValue>> {
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let out = client
            .scan()
            .table_name(table)
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .expect("scan");
        items.extend(out.items().iter().cloned());
        match out.last_evaluated_key {
            Some(k) if !k.is_empty() => start = Some(k),
            _ => return items,
        }
    }
}

/// The string value of an attribute.
pub fn s<'a>(item: &'a HashMap<String, AttributeValue>, name: &str) -> &'a str {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
        .unwrap_or_else(|| panic!("no S {name} in {item:?}"))
}
