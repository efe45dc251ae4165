//! `zip-bootstrap <bootstrap> <out.zip>`: writes the deterministic Lambda package of a
//! built `bootstrap` binary (see `zae_limiter_aggregator::package`).

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [binary, out] = args.as_slice() else {
        eprintln!("usage: zip-bootstrap <bootstrap> <out.zip>");
        return ExitCode::from(2);
    };
    let result = std::fs::read(binary)
        .map_err(|e| format!("{binary}: {e}"))
        .and_then(|b| zae_limiter_aggregator::package::zip_bootstrap(&b).map_err(|e| e.to_string()))
        .and_then(|zip| std::fs::write(out, zip).map_err(|e| format!("{out}: {e}")));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("zip-bootstrap: {e}");
            ExitCode::FAILURE
        }
    }
}
