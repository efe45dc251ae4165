//! `terraform-provider-zae`: serves the `zae` provider to Terraform over the plugin
//! protocol v6. Run with `--debug` to serve in the foreground for a debugger.

use std::process::ExitCode;

use anyhow::Context;
use terraform_provider_zae::provider::ZaeProvider;
use terraform_provider_zae::server::{self, ServeError, ServeOptions};

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // A human running the binary gets go-plugin's "This binary is a plugin" text.
            match err.downcast_ref::<ServeError>() {
                Some(ServeError::Handshake(h)) => eprintln!("{h}"),
                _ => eprintln!("Error: {err:#}"),
            }
            ExitCode::FAILURE
        }
    }
}

async fn run() -> anyhow::Result<()> {
    let options = ServeOptions::from_args(std::env::args().skip(1))?;
    let service = server::rpc::provider_service(ZaeProvider);
    server::serve(service, options)
        .await
        .context("serving the zae provider")?;
    Ok(())
}
