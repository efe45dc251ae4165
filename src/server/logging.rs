//! Logging to stderr in the format Terraform understands.
//!
//! go-plugin parses each stderr line of a plugin as a go-hclog JSON object
//! (`@level`, `@message`, `@module`, `@timestamp`, plus any extra keys) and
//! re-logs it at that level under `provider.terraform-provider-zae`. Lines
//! that are not JSON are shown at debug level, so plain text would lose the
//! level. In `--debug` mode nobody parses stderr, so human output is used.

use std::io::{IsTerminal as _, Write as _};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt as _};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt as _;

/// Module name Terraform shows for this crate's events.
const MODULE: &str = "provider";
/// Crate name prefix of our own `tracing` targets.
const OWN_TARGET_PREFIX: &str = "terraform_provider_zae";
/// Chatty transport crates whose events are capped at `info`. At `debug` and `trace` they
/// log connection details and raw frames (headers included).
const NOISY_TARGETS: [&str; 6] = ["h2", "hyper", "hyper_util", "tower", "rustls", "tonic"];
/// AWS SDK crates capped at `debug`: at `trace` the smithy runtime logs whole requests and
/// responses (an STS AssumeRole response holds the new session's secret key), and the
/// credential crates log what they load. A target is a prefix: `aws_smithy` covers
/// `aws_smithy_runtime`, `aws_smithy_http`, `aws_smithy_http_client` and the rest.
const SDK_TARGETS: [&str; 5] = [
    "aws_smithy",
    "aws_config",
    "aws_credential_types",
    "aws_runtime",
    "aws_sdk",
];
/// Request signing, capped at `info`: at `debug`/`trace` aws-sigv4 logs the canonical request
/// (with the `x-amz-security-token` header) and the string to sign.
const SIGNING_TARGETS: [&str; 1] = ["aws_sigv4"];

/// How log lines are written to stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// go-hclog JSON lines, for a plugin process launched by Terraform.
    HcLogJson,
    /// Human-readable lines, for `--debug` mode.
    Human,
}

/// Why the logger could not be installed.
#[derive(Debug, thiserror::Error)]
#[error("failed to install the logger (is another global subscriber set?): {0}")]
pub struct LoggingError(#[from] tracing_subscriber::util::TryInitError);

/// Installs the global `tracing` subscriber, writing to stderr.
///
/// The level comes from `TF_LOG_PROVIDER`, else `TF_LOG`, else `info`
/// (Terraform filters again on its side).
pub fn init_logging(format: LogFormat) -> Result<(), LoggingError> {
    let level = level_from_lookup(|key| std::env::var(key).ok());
    match format {
        LogFormat::HcLogJson => hclog_subscriber(std::io::stderr, level).try_init()?,
        LogFormat::Human => tracing_subscriber::registry()
            .with(
                tracing_subscriber::fmt::layer()
                    .with_writer(std::io::stderr)
                    .with_ansi(std::io::stderr().is_terminal())
                    .with_filter(targets_for(level)),
            )
            .try_init()?,
    }
    Ok(())
}

/// Picks the level from `TF_LOG_PROVIDER`, then `TF_LOG`, then `info`.
fn level_from_lookup(lookup: impl Fn(&str) -> Option<String>) -> LevelFilter {
    ["TF_LOG_PROVIDER", "TF_LOG"]
        .into_iter()
        .filter_map(&lookup)
        .find_map(|raw| parse_tf_log(&raw))
        .unwrap_or(LevelFilter::INFO)
}

/// Interprets a `TF_LOG`-style value; `None` for an empty value.
///
/// `JSON` means trace; unknown values mean trace too, as in Terraform.
fn parse_tf_log(raw: &str) -> Option<LevelFilter> {
    let level = match raw.trim().to_ascii_lowercase().as_str() {
        "" => return None,
        "off" => LevelFilter::OFF,
        "error" => LevelFilter::ERROR,
        "warn" => LevelFilter::WARN,
        "info" => LevelFilter::INFO,
        "debug" => LevelFilter::DEBUG,
        _ => LevelFilter::TRACE,
    };
    Some(level)
}

/// The filter: `level` everywhere, but at most `info` for transport crates and request
/// signing, and at most `debug` for the rest of the AWS SDK, so that no log level prints
/// credentials.
fn targets_for(level: LevelFilter) -> Targets {
    let caps = [
        (&NOISY_TARGETS[..], LevelFilter::INFO),
        (&SIGNING_TARGETS[..], LevelFilter::INFO),
        (&SDK_TARGETS[..], LevelFilter::DEBUG),
    ];
    caps.into_iter()
        .flat_map(|(targets, cap)| targets.iter().map(move |target| (*target, cap)))
        .fold(Targets::new().with_default(level), |targets, (target, cap)| {
            targets.with_target(target, level.min(cap))
        })
}

/// The subscriber [`init_logging`] installs for [`LogFormat::HcLogJson`], writing to
/// `make_writer` at `level`.
fn hclog_subscriber<W>(make_writer: W, level: LevelFilter) -> impl Subscriber + Send + Sync
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::registry().with(HcLogLayer::new(make_writer).with_filter(targets_for(level)))
}

/// A [`Layer`] that writes one go-hclog JSON object per event.
pub(crate) struct HcLogLayer<W> {
    make_writer: W,
}

impl<W> HcLogLayer<W> {
    /// Writes lines to writers made by `make_writer` (e.g. `std::io::stderr`).
    pub(crate) fn new(make_writer: W) -> Self {
        Self { make_writer }
    }
}

/// Fields recorded on a span, stored in the span's extensions.
struct SpanFields(Map<String, Value>);

impl<S, W> Layer<S> for HcLogLayer<W>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + 'static,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut fields = JsonFields::default();
        attrs.record(&mut fields);
        span.extensions_mut().insert(SpanFields(fields.fields));
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut extensions = span.extensions_mut();
        if let Some(SpanFields(stored)) = extensions.get_mut::<SpanFields>() {
            let mut fields = JsonFields::default();
            values.record(&mut fields);
            stored.extend(fields.fields);
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut line = Map::new();
        line.insert("@level".into(), hclog_level(*event.metadata().level()).into());
        line.insert("@module".into(), module_for(event.metadata().target()).into());
        line.insert("@timestamp".into(), rfc3339_utc_micros(SystemTime::now()).into());

        // Outer span fields first, so inner spans and the event win on clashes.
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope.from_root() {
                if let Some(SpanFields(fields)) = span.extensions().get::<SpanFields>() {
                    line.extend(fields.iter().map(|(k, v)| (k.clone(), v.clone())));
                }
            }
        }

        let mut fields = JsonFields::default();
        event.record(&mut fields);
        line.extend(fields.fields);
        let message = fields.message.unwrap_or_default();
        line.insert("@message".into(), message.into());

        let Ok(mut bytes) = serde_json::to_vec(&Value::Object(line)) else {
            return;
        };
        bytes.push(b'\n');
        // One write per line keeps lines whole when threads log concurrently.
        // A failed write to stderr has nowhere else to be reported.
        let _ = self.make_writer.make_writer().write_all(&bytes);
    }
}

/// go-hclog's level names.
fn hclog_level(level: Level) -> &'static str {
    match level {
        Level::TRACE => "trace",
        Level::DEBUG => "debug",
        Level::INFO => "info",
        Level::WARN => "warn",
        Level::ERROR => "error",
    }
}

/// `provider` for our own events, `provider.<crate>` for dependencies.
fn module_for(target: &str) -> String {
    let krate = target.split("::").next().unwrap_or(target);
    if krate == OWN_TARGET_PREFIX {
        MODULE.to_owned()
    } else {
        format!("{MODULE}.{krate}")
    }
}

/// Collects `tracing` fields as JSON values; `message` is kept apart.
#[derive(Default)]
struct JsonFields {
    message: Option<String>,
    fields: Map<String, Value>,
}

impl JsonFields {
    fn put(&mut self, field: &Field, value: Value) {
        if field.name() == "message" {
            self.message = Some(match value {
                Value::String(text) => text,
                other => other.to_string(),
            });
        } else {
            self.fields.insert(field.name().to_owned(), value);
        }
    }
}

impl Visit for JsonFields {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, Value::from(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, Value::from(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, Value::from(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, Value::from(value));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, Value::from(value));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.put(field, Value::from(value.to_string()));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.put(field, Value::from(format!("{value:?}")));
    }
}

/// Formats a time as `YYYY-MM-DDTHH:MM:SS.ffffffZ` (UTC, microseconds), the
/// precision go-hclog uses.
fn rfc3339_utc_micros(time: SystemTime) -> String {
    let since_epoch = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since_epoch.as_secs();
    let micros = since_epoch.subsec_micros();
    let days = i64::try_from(secs / 86_400).unwrap_or(i64::MAX);
    let secs_of_day = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{micros:06}Z",
        secs_of_day / 3600,
        (secs_of_day % 3600) / 60,
        secs_of_day % 60
    )
}

/// Converts days since 1970-01-01 into a proleptic Gregorian (year, month,
/// day), using the era-based method (eras of 400 years = 146 097 days).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let shifted = days + 719_468; // days since 0000-03-01
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted.rem_euclid(146_097);
    let year_of_era = (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153; // 0 = March
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    // Both values are small and positive by construction.
    (year, u32::try_from(month).unwrap_or(1), u32::try_from(day).unwrap_or(1))
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use tracing_subscriber::layer::SubscriberExt as _;

    use super::*;

    /// A `MakeWriter` that appends to a shared buffer.
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("buffer lock").extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'w> MakeWriter<'w> for Buffer {
        type Writer = Buffer;

        fn make_writer(&'w self) -> Self::Writer {
            self.clone()
        }
    }

    fn capture(f: impl FnOnce()) -> Vec<Value> {
        let buffer = Buffer::default();
        let subscriber = tracing_subscriber::registry().with(HcLogLayer::new(buffer.clone()));
        tracing::subscriber::with_default(subscriber, f);
        let bytes = buffer.0.lock().expect("buffer lock").clone();
        String::from_utf8(bytes)
            .expect("utf-8")
            .lines()
            .map(|line| serde_json::from_str(line).expect("each line is one JSON object"))
            .collect()
    }

    #[test]
    fn credential_logging_targets_are_capped_at_every_level() {
        let targets = targets_for(LevelFilter::TRACE);
        let enabled = |target: &str, level: Level| targets.would_enable(target, &level);
        assert!(!enabled("aws_sigv4::http_request::sign", Level::DEBUG));
        assert!(enabled("aws_sigv4::http_request::sign", Level::INFO));
        for target in [
            "aws_smithy_runtime::client",
            "aws_smithy_http_client",
            "aws_config::sts",
            "aws_credential_types",
        ] {
            assert!(!enabled(target, Level::TRACE), "{target}");
            assert!(enabled(target, Level::DEBUG), "{target}");
        }
        assert!(!enabled("hyper::proto", Level::DEBUG));
        assert!(enabled("terraform_provider_zae::aws", Level::TRACE));
    }

    /// The provider's subscriber at trace level must not print the secret key or session token
    /// of the provider's credentials (used to sign STS GetCallerIdentity and DynamoDB
    /// ListTables) nor those an STS AssumeRole returns; the SDK's own events must still be
    /// there. The SDK redacts sensitive response bodies unless `LOG_SENSITIVE_BODIES=true`
    /// is set, which users do when debugging, so the test runs itself again in a child
    /// process with that variable set (no `set_var` in a threaded test binary).
    #[tokio::test]
    async fn a_trace_log_of_signed_calls_holds_no_credential() {
        const SENSITIVE_BODIES: &str = "LOG_SENSITIVE_BODIES";
        if std::env::var_os(SENSITIVE_BODIES).is_none() {
            let test = "server::logging::tests::a_trace_log_of_signed_calls_holds_no_credential";
            let status = std::process::Command::new(std::env::current_exe().expect("test binary"))
                .args(["--exact", test, "--nocapture", "--test-threads=1"])
                .env(SENSITIVE_BODIES, "true")
                .status()
                .expect("run the test binary");
            assert!(status.success(), "the check with {SENSITIVE_BODIES}=true failed");
            return;
        }
        const SECRET: &str = "zaeSecretKeyThatMustNeverBeLogged0000000";
        const TOKEN: &str = "zaeSessionTokenThatMustNeverBeLogged1111";
        let emulator = testkit::Emulator::start();
        let buffer = Buffer::default();
        let guard = tracing::subscriber::set_default(hclog_subscriber(buffer.clone(), LevelFilter::TRACE));
        let cfg = crate::provider::config::ProviderConfig {
            region: Some("us-east-1".into()),
            static_credentials: Some(("AKIAZAELOGTEST".into(), SECRET.into(), Some(TOKEN.into()))),
            endpoint_url: Some(emulator.endpoint()),
            max_retries: 1,
            ..Default::default()
        };
        let mut diags = crate::framework::Diagnostics::new();
        let clients = crate::provider::clients::build(&cfg, &mut diags).await;
        let clients = clients.unwrap_or_else(|| panic!("clients: {diags:?}"));
        assert!(clients.identity.is_some(), "the credential check ran");
        clients.dynamodb.list_tables().send().await.expect("ListTables");
        let assumed = clients
            .sts
            .assume_role()
            .role_arn("arn:aws:iam::123456789012:role/zae-log-test")
            .role_session_name("zae-log-test")
            .send()
            .await
            .expect("AssumeRole");
        let assumed = assumed.credentials().expect("credentials");
        drop(guard);
        let log = String::from_utf8(buffer.0.lock().expect("buffer lock").clone()).expect("utf-8");
        let sdk_lines = log
            .lines()
            .filter(|l| l.contains("\"@module\":\"provider.aws_smithy"))
            .count();
        assert!(sdk_lines > 5, "the SDK's debug events are logged:\n{log}");
        for (what, secret) in [
            ("secret key", SECRET),
            ("session token", TOKEN),
            ("assumed secret key", assumed.secret_access_key()),
            ("assumed session token", assumed.session_token()),
        ] {
            assert!(!log.contains(secret), "{what} {secret:?} in the log:\n{log}");
        }
    }

    #[test]
    fn event_becomes_an_hclog_json_line_with_structured_fields() {
        let lines = capture(|| {
            let span = tracing::info_span!("rpc", tf_rpc = "PlanResourceChange");
            let _guard = span.enter();
            tracing::debug!(
                tf_resource_type = "zae_limit",
                attempts = 3_u64,
                ok = false,
                "planned {} change",
                1
            );
        });
        assert_eq!(lines.len(), 1);
        let line = lines[0].as_object().expect("object");
        assert_eq!(line["@level"], "debug");
        assert_eq!(line["@message"], "planned 1 change");
        assert_eq!(line["@module"], "provider");
        assert_eq!(line["tf_rpc"], "PlanResourceChange");
        assert_eq!(line["tf_resource_type"], "zae_limit");
        assert_eq!(line["attempts"], 3);
        assert_eq!(line["ok"], false);
        let ts = line["@timestamp"].as_str().expect("timestamp string");
        assert_eq!(ts.len(), "2026-01-02T03:04:05.123456Z".len(), "{ts}");
        assert!(ts.ends_with('Z') && ts.as_bytes()[10] == b'T', "{ts}");
        assert!(!line.contains_key("message"));
    }

    #[test]
    fn levels_use_hclog_names_and_foreign_crates_get_a_submodule() {
        let lines = capture(|| {
            tracing::error!("e");
            tracing::warn!("w");
            tracing::info!("i");
            tracing::trace!("t");
            tracing::info!(target: "aws_smithy_runtime::client", "sdk");
        });
        let levels: Vec<_> = lines.iter().map(|l| l["@level"].clone()).collect();
        assert_eq!(levels, ["error", "warn", "info", "trace", "info"]);
        assert_eq!(lines[4]["@module"], "provider.aws_smithy_runtime");
    }

    #[test]
    fn span_fields_recorded_later_are_included() {
        let lines = capture(|| {
            let span = tracing::info_span!("op", table = tracing::field::Empty);
            span.record("table", "limits");
            span.in_scope(|| tracing::info!("done"));
        });
        assert_eq!(lines[0]["table"], "limits");
    }

    #[test]
    fn level_comes_from_tf_log_provider_then_tf_log_then_info() {
        let lookup = |pairs: &'static [(&'static str, &'static str)]| {
            move |key: &str| pairs.iter().find(|(k, _)| *k == key).map(|(_, v)| (*v).to_owned())
        };
        assert_eq!(level_from_lookup(lookup(&[])), LevelFilter::INFO);
        assert_eq!(level_from_lookup(lookup(&[("TF_LOG", "debug")])), LevelFilter::DEBUG);
        assert_eq!(
            level_from_lookup(lookup(&[("TF_LOG", "DEBUG"), ("TF_LOG_PROVIDER", "WARN")])),
            LevelFilter::WARN
        );
        assert_eq!(
            level_from_lookup(lookup(&[("TF_LOG", "json"), ("TF_LOG_PROVIDER", "")])),
            LevelFilter::TRACE
        );
        assert_eq!(parse_tf_log("off"), Some(LevelFilter::OFF));
        assert_eq!(parse_tf_log("bogus"), Some(LevelFilter::TRACE));
    }

    #[test]
    fn timestamps_are_utc_with_microseconds() {
        let at = |secs: u64, micros: u64| {
            rfc3339_utc_micros(UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_micros(micros))
        };
        assert_eq!(at(0, 0), "1970-01-01T00:00:00.000000Z");
        // 2000-02-29 (leap day) 12:34:56.789012
        assert_eq!(at(951_827_696, 789_012), "2000-02-29T12:34:56.789012Z");
        // 2026-12-31 23:59:59
        assert_eq!(at(1_798_761_599, 0), "2026-12-31T23:59:59.000000Z");
    }
}
