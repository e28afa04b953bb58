//! Where log lines go and what they look like: tracing's text lines on stderr, or with
//! `--log-format json` one JSON object per line (for log shippers that want structure):
//!
//! ```text
//! {"timestamp":"2025-01-01T12:00:00.000000Z","level":"INFO","target":"zk_node::server","message":"state loaded","fields":{"sessions":0,"zxid":"0x0"}}
//! ```
//!
//! `fields` holds the event's own fields beside its message; `spans` (names, outermost
//! first) is there only when the event happened inside spans.

use std::fmt;

use serde_json::Map;
use serde_json::Value;
use tracing::field::Field;
use tracing::field::Visit;
use tracing::Event;
use tracing::Subscriber;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::FormatTime;
use tracing_subscriber::fmt::time::SystemTime;
use tracing_subscriber::fmt::FmtContext;
use tracing_subscriber::fmt::FormatEvent;
use tracing_subscriber::fmt::FormatFields;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Installs the global subscriber: `filter` decides what is logged, `format` how, to stderr.
pub fn init(filter: EnvFilter, format: LogFormat) {
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
        LogFormat::Json => builder.with_ansi(false).event_format(JsonLines).init(),
    }
}

/// The JSON event format.
pub struct JsonLines;

impl<S, N> FormatEvent<S, N> for JsonLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        writeln!(writer, "{}", json_line(event, ctx))
    }
}

fn json_line<S, N>(event: &Event<'_>, ctx: &FmtContext<'_, S, N>) -> Value
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    let mut timestamp = String::new();
    // SystemTime writes RFC 3339 in UTC; it cannot fail into a String.
    let _ = SystemTime.format_time(&mut Writer::new(&mut timestamp));
    let meta = event.metadata();
    let mut fields = Fields::default();
    event.record(&mut fields);
    let mut line = Map::new();
    line.insert("timestamp".into(), Value::String(timestamp));
    line.insert("level".into(), Value::String(meta.level().to_string()));
    // Events from the `log` crate (sled) arrive with target "log"; their own target is a
    // field.
    let target = fields
        .log_target
        .take()
        .unwrap_or_else(|| meta.target().to_string());
    line.insert("target".into(), Value::String(target));
    line.insert(
        "message".into(),
        fields
            .message
            .take()
            .map_or(Value::String(String::new()), Value::String),
    );
    line.insert("fields".into(), Value::Object(fields.rest));
    if let Some(scope) = ctx.event_scope() {
        let spans: Vec<Value> = scope
            .from_root()
            .map(|span| Value::String(span.name().to_string()))
            .collect();
        if !spans.is_empty() {
            line.insert("spans".into(), Value::Array(spans));
        }
    }
    Value::Object(line)
}

/// An event's fields as JSON values; numbers and booleans stay what they are.
#[derive(Default)]
struct Fields {
    message: Option<String>,
    log_target: Option<String>,
    rest: Map<String, Value>,
}

impl Fields {
    fn put(&mut self, field: &Field, value: Value) {
        match field.name() {
            "message" => {
                self.message = Some(match value {
                    Value::String(s) => s,
                    other => other.to_string(),
                })
            }
            "log.target" => {
                if let Value::String(s) = value {
                    self.log_target = Some(s);
                }
            }
            // The rest of the `log` crate's bookkeeping is not the event's own data.
            name if name.starts_with("log.") => {}
            name => {
                self.rest.insert(name.to_string(), value);
            }
        }
    }
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.put(field, Value::String(format!("{value:?}")));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, Value::String(value.to_string()));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, Value::from(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, Value::from(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, Value::Bool(value));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, Value::from(value));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.put(field, Value::String(value.to_string()));
    }
}
