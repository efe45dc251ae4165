//! Which request gets which fault: request classification (service and operation), the
//! fault kinds, rules with their matchers, the seeded schedule and the injection counts.

use std::collections::BTreeMap;
use std::time::Duration;

use super::http::Message;

/// What an AWS request is: the SigV4 signing service and the API operation.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Call {
    /// Signing name from the `Authorization` credential scope (`dynamodb`, `iam`, `sts`),
    /// lower case; `?` when the request is not signed.
    pub service: String,
    /// `PutItem`, `CreatePolicy`, ... from `X-Amz-Target` or the form's `Action=`; `?` when
    /// neither is present.
    pub operation: String,
    /// Whether the service speaks JSON (`X-Amz-Target`) rather than the query protocol:
    /// decides the error body format.
    pub json: bool,
}

impl Call {
    /// Classifies a request.
    pub fn of(request: &Message) -> Call {
        let head = &request.head;
        let service = head
            .header("authorization")
            .and_then(|auth| auth.split("Credential=").nth(1))
            .and_then(|cred| cred.split([',', ' ']).next())
            .and_then(|scope| scope.split('/').nth(3))
            .map(str::to_ascii_lowercase)
            .unwrap_or_else(|| "?".into());
        if let Some(target) = head.header("x-amz-target") {
            let operation = target.rsplit('.').next().unwrap_or(target).to_string();
            return Call {
                service,
                operation,
                json: true,
            };
        }
        let body = String::from_utf8_lossy(&request.body);
        let query = head
            .start_line
            .split(' ')
            .nth(1)
            .and_then(|t| t.split_once('?'))
            .map(|(_, q)| q);
        let operation = body
            .split('&')
            .chain(query.into_iter().flat_map(|q| q.split('&')))
            .find_map(|pair| pair.strip_prefix("Action="))
            .map(str::to_string)
            .or_else(|| rest_operation(&service, &head.start_line))
            .unwrap_or_else(|| "?".into());
        Call {
            service,
            operation,
            json: false,
        }
    }

    /// `service:Operation`, the key of the counts.
    pub fn key(&self) -> String {
        format!("{}:{}", self.service, self.operation)
    }
}

/// The operation of a REST-JSON request (Lambda's, which names it by method and path
/// only), from its start line `METHOD /path HTTP/1.1`.
fn rest_operation(service: &str, start_line: &str) -> Option<String> {
    if service != "lambda" {
        return None;
    }
    let mut parts = start_line.split(' ');
    let method = parts.next()?;
    let path = parts.next()?.split('?').next()?.trim_end_matches('/');
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).skip(1).collect();
    let operation = match (method, segments.as_slice()) {
        ("POST", ["functions"]) => "CreateFunction",
        ("GET", ["functions"]) => "ListFunctions",
        ("GET", ["functions", _]) => "GetFunction",
        ("DELETE", ["functions", _]) => "DeleteFunction",
        ("PUT", ["functions", _, "configuration"]) => "UpdateFunctionConfiguration",
        ("PUT", ["functions", _, "code"]) => "UpdateFunctionCode",
        ("POST", ["event-source-mappings"]) => "CreateEventSourceMapping",
        ("GET", ["event-source-mappings"]) => "ListEventSourceMappings",
        ("GET", ["event-source-mappings", _]) => "GetEventSourceMapping",
        ("PUT", ["event-source-mappings", _]) => "UpdateEventSourceMapping",
        ("DELETE", ["event-source-mappings", _]) => "DeleteEventSourceMapping",
        _ => return None,
    };
    Some(operation.to_string())
}

/// A fault the proxy can inject into one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Answer 400 with the service's throttling error without forwarding: DynamoDB
    /// `ThrottlingException`, IAM/STS `<Code>Throttling</Code>`.
    Throttle,
    /// Answer 400 `ProvisionedThroughputExceededException` (DynamoDB; IAM/STS get
    /// `Throttling`) without forwarding.
    ProvisionedThroughputExceeded,
    /// Answer with this HTTP status (500 or 503 are the useful ones) and the service's
    /// matching error body, without forwarding.
    Status(u16),
    /// Close the client's connection without forwarding the request and without answering.
    ResetBeforeForward,
    /// Forward the request (the emulator applies it), discard the response and close the
    /// client's connection: the "dropped response" case.
    ResetAfterForward,
    /// Wait this long, then forward normally.
    Delay(Duration),
}

impl Fault {
    /// A short name for reports: `throttle`, `provisioned-throughput`, `http-503`,
    /// `reset-before`, `reset-after`, `delay`.
    pub fn label(&self) -> String {
        match self {
            Fault::Throttle => "throttle".into(),
            Fault::ProvisionedThroughputExceeded => "provisioned-throughput".into(),
            Fault::Status(code) => format!("http-{code}"),
            Fault::ResetBeforeForward => "reset-before".into(),
            Fault::ResetAfterForward => "reset-after".into(),
            Fault::Delay(_) => "delay".into(),
        }
    }
}

/// Which of the requests a rule selects reaches its fault.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum When {
    /// Every selected request.
    Always,
    /// Only the n-th selected request (1-based).
    Nth(u64),
    /// The first n selected requests.
    FirstN(u64),
    /// Every n-th selected request (the n-th, 2n-th, ...).
    EveryNth(u64),
    /// Each selected request with this probability, drawn from the plan's seeded generator.
    Probability(f64),
}

/// One rule: a request selector (service, operation), a matcher and the fault.
#[derive(Debug, Clone)]
pub struct Rule {
    service: Option<String>,
    operations: Vec<String>,
    body_contains: Option<Vec<u8>>,
    when: When,
    fault: Fault,
    at_most: Option<u64>,
}

impl Rule {
    /// A rule injecting `fault` into every request (narrow it with the other methods).
    pub fn new(fault: Fault) -> Rule {
        Rule {
            service: None,
            operations: Vec::new(),
            body_contains: None,
            when: When::Always,
            fault,
            at_most: None,
        }
    }

    /// Only requests to this signing service (`dynamodb`, `iam`, `sts`; case-insensitive).
    pub fn service(mut self, service: &str) -> Rule {
        self.service = Some(service.to_ascii_lowercase());
        self
    }

    /// Only this operation (call again to add more).
    pub fn operation(mut self, operation: &str) -> Rule {
        self.operations.push(operation.to_string());
        self
    }

    /// Only requests whose body contains `text` (e.g. an attribute name such as
    /// `l_rpm_cp`, to pick the write of one item).
    pub fn body_contains(mut self, text: &str) -> Rule {
        self.body_contains = Some(text.as_bytes().to_vec());
        self
    }

    /// Only the n-th selected request (1-based).
    pub fn nth(mut self, n: u64) -> Rule {
        self.when = When::Nth(n);
        self
    }

    /// The first n selected requests.
    pub fn first(mut self, n: u64) -> Rule {
        self.when = When::FirstN(n);
        self
    }

    /// Every n-th selected request.
    pub fn every(mut self, n: u64) -> Rule {
        self.when = When::EveryNth(n.max(1));
        self
    }

    /// Each selected request with probability `p` (seeded, see [`FaultPlan::seed`]).
    pub fn probability(mut self, p: f64) -> Rule {
        self.when = When::Probability(p.clamp(0.0, 1.0));
        self
    }

    /// Injects at most n times in all.
    pub fn at_most(mut self, n: u64) -> Rule {
        self.at_most = Some(n);
        self
    }

    fn selects(&self, call: &Call, body: &[u8]) -> bool {
        self.service.as_deref().is_none_or(|s| s == call.service)
            && (self.operations.is_empty() || self.operations.contains(&call.operation))
            && self
                .body_contains
                .as_deref()
                .is_none_or(|needle| needle.is_empty() || body.windows(needle.len()).any(|w| w == needle))
    }
}

/// A tiny seeded generator (splitmix64): the same seed gives the same sequence.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator starting from `seed`.
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform draw in `[0, 1)`.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The rules of a proxy and the seed of their random schedule.
///
/// Rules are tried in order; the first whose selector and matcher fire decides the
/// request's fault. Each rule counts the requests it selects and draws from its own
/// generator (seeded from the plan's seed and its position), so the k-th request a rule
/// selects always gets the same decision for a given seed. Under concurrency the order in
/// which requests arrive can differ between runs; the schedule itself does not.
#[derive(Debug, Clone, Default)]
pub struct FaultPlan {
    rules: Vec<Rule>,
    seed: u64,
}

impl FaultPlan {
    /// No rules: a transparent proxy.
    pub fn none() -> FaultPlan {
        FaultPlan::default()
    }

    /// A plan with `seed` and no rules yet.
    pub fn seeded(seed: u64) -> FaultPlan {
        FaultPlan {
            rules: Vec::new(),
            seed,
        }
    }

    /// Appends a rule.
    pub fn rule(mut self, rule: Rule) -> FaultPlan {
        self.rules.push(rule);
        self
    }

    /// The seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }
}

#[derive(Debug)]
struct RuleState {
    rule: Rule,
    selected: u64,
    injected: u64,
    rng: SplitMix64,
}

/// Injection and request counts, keyed by fault label and by `service:Operation`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FaultStats {
    /// Requests seen per `service:Operation` (faulted or not).
    pub requests: BTreeMap<String, u64>,
    /// Faults injected per (fault label, `service:Operation`).
    pub injected: BTreeMap<(String, String), u64>,
}

impl FaultStats {
    /// All faults injected.
    pub fn total_injected(&self) -> u64 {
        self.injected.values().sum()
    }

    /// All requests seen.
    pub fn total_requests(&self) -> u64 {
        self.requests.values().sum()
    }

    /// Faults injected into `service:Operation`, all kinds together.
    pub fn injected_into(&self, key: &str) -> u64 {
        self.injected
            .iter()
            .filter(|((_, k), _)| k == key)
            .map(|(_, n)| n)
            .sum()
    }

    /// What happened since `earlier` (a snapshot of the same proxy).
    pub fn since(&self, earlier: &FaultStats) -> FaultStats {
        let minus = |now: u64, before: Option<&u64>| now - before.copied().unwrap_or(0);
        FaultStats {
            requests: self
                .requests
                .iter()
                .map(|(k, n)| (k.clone(), minus(*n, earlier.requests.get(k))))
                .filter(|(_, n)| *n > 0)
                .collect(),
            injected: self
                .injected
                .iter()
                .map(|(k, n)| (k.clone(), minus(*n, earlier.injected.get(k))))
                .filter(|(_, n)| *n > 0)
                .collect(),
        }
    }

    /// One line: `N faults in M requests (GetItem 3, PutItem 1, ...)`.
    pub fn summary(&self) -> String {
        let mut per_op: BTreeMap<&str, u64> = BTreeMap::new();
        for ((_, key), n) in &self.injected {
            *per_op.entry(key.split(':').nth(1).unwrap_or(key)).or_default() += n;
        }
        let detail: Vec<String> = per_op.iter().map(|(op, n)| format!("{op} {n}")).collect();
        format!(
            "{} faults in {} requests ({})",
            self.total_injected(),
            self.total_requests(),
            detail.join(", ")
        )
    }
}

/// The mutable side of a [`FaultPlan`]: counters, generators and stats.
#[derive(Debug)]
pub struct Selector {
    rules: Vec<RuleState>,
    stats: FaultStats,
}

impl Selector {
    /// A selector running `plan` from its start.
    pub fn new(plan: FaultPlan) -> Selector {
        let rules = plan
            .rules
            .into_iter()
            .enumerate()
            .map(|(i, rule)| RuleState {
                rule,
                selected: 0,
                injected: 0,
                // Distinct streams per rule: mix the position into the seed.
                rng: SplitMix64::new(plan.seed ^ (i as u64 + 1).wrapping_mul(0xD1B5_4A32_D192_ED03)),
            })
            .collect();
        Selector {
            rules,
            stats: FaultStats::default(),
        }
    }

    /// Counts a request `call` with `body` and decides its fault (`None`: forward
    /// untouched). With `enabled` false the request is counted but no rule advances.
    pub fn decide_request(&mut self, call: &Call, body: &[u8], enabled: bool) -> Option<Fault> {
        *self.stats.requests.entry(call.key()).or_default() += 1;
        if !enabled {
            return None;
        }
        for state in &mut self.rules {
            if !state.rule.selects(call, body) {
                continue;
            }
            state.selected += 1;
            let n = state.selected;
            let fires = match state.rule.when {
                When::Always => true,
                When::Nth(k) => n == k,
                When::FirstN(k) => n <= k,
                When::EveryNth(k) => n % k == 0,
                When::Probability(p) => state.rng.next_f64() < p,
            };
            if !fires || state.rule.at_most.is_some_and(|max| state.injected >= max) {
                continue;
            }
            state.injected += 1;
            let fault = state.rule.fault;
            *self.stats.injected.entry((fault.label(), call.key())).or_default() += 1;
            return Some(fault);
        }
        None
    }

    /// The counts so far.
    pub fn stats(&self) -> &FaultStats {
        &self.stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faults::http::Head;

    fn request(headers: &[(&str, &str)], body: &str) -> Message {
        Message {
            head: Head {
                start_line: "POST / HTTP/1.1".into(),
                headers: headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            },
            body: body.as_bytes().to_vec(),
            closed_by_sender: false,
        }
    }

    fn auth(service: &str) -> String {
        format!(
            "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/{service}/aws4_request, \
             SignedHeaders=host;x-amz-date, Signature=abc"
        )
    }

    impl Selector {
        /// A request without a body.
        fn decide(&mut self, call: &Call, enabled: bool) -> Option<Fault> {
            self.decide_request(call, &[], enabled)
        }
    }

    fn call(service: &str, operation: &str) -> Call {
        Call {
            service: service.into(),
            operation: operation.into(),
            json: service == "dynamodb",
        }
    }

    #[test]
    fn classifies_lambda_rest_requests_by_method_and_path() {
        let lambda = auth("lambda");
        let mut req = request(&[("authorization", lambda.as_str())], "{}");
        let mut op = |line: &str| {
            req.head.start_line = line.into();
            Call::of(&req).operation
        };
        assert_eq!(op("POST /2015-03-31/functions HTTP/1.1"), "CreateFunction");
        assert_eq!(op("PUT /2015-03-31/functions/f/code HTTP/1.1"), "UpdateFunctionCode");
        assert_eq!(
            op("POST /2015-03-31/event-source-mappings/ HTTP/1.1"),
            "CreateEventSourceMapping"
        );
        assert_eq!(
            op("DELETE /2015-03-31/event-source-mappings/u-1 HTTP/1.1"),
            "DeleteEventSourceMapping"
        );
        assert_eq!(op("PATCH /2015-03-31/functions HTTP/1.1"), "?");
    }

    #[test]
    fn classifies_json_and_query_protocol_requests() {
        let dynamo = request(
            &[
                ("Authorization", &auth("dynamodb")),
                ("X-Amz-Target", "DynamoDB_20120810.CreateTable"),
            ],
            "{}",
        );
        assert_eq!(Call::of(&dynamo), call("dynamodb", "CreateTable"));
        let iam = request(
            &[("authorization", &auth("iam"))],
            "Action=CreatePolicy&Version=2010-05-08&PolicyName=x",
        );
        assert_eq!(Call::of(&iam), call("iam", "CreatePolicy"));
        let sts = request(
            &[("Authorization", &auth("sts"))],
            "Version=2011-06-15&Action=GetCallerIdentity",
        );
        assert_eq!(Call::of(&sts).key(), "sts:GetCallerIdentity");
        let unsigned = request(&[], "");
        assert_eq!(Call::of(&unsigned).key(), "?:?");
    }

    #[test]
    fn nth_first_every_and_at_most_count_only_selected_requests() {
        let plan = FaultPlan::seeded(1)
            .rule(
                Rule::new(Fault::Throttle)
                    .service("dynamodb")
                    .operation("CreateTable")
                    .nth(3),
            )
            .rule(Rule::new(Fault::Status(503)).operation("PutItem").every(2).at_most(2))
            .rule(Rule::new(Fault::ResetBeforeForward).service("IAM").first(1));
        let mut sel = Selector::new(plan);
        let mut got = Vec::new();
        for i in 0..4 {
            got.push(sel.decide(&call("dynamodb", "CreateTable"), true));
            got.push(sel.decide(&call("dynamodb", "PutItem"), true));
            got.push(sel.decide(&call("iam", "CreatePolicy"), true));
            if i == 0 {
                // Other operations do not advance the CreateTable counter.
                assert_eq!(sel.decide(&call("dynamodb", "GetItem"), true), None);
            }
        }
        let expected = [
            [None, None, Some(Fault::ResetBeforeForward)],
            [None, Some(Fault::Status(503)), None],
            [Some(Fault::Throttle), None, None],
            [None, Some(Fault::Status(503)), None],
        ];
        assert_eq!(got, expected.concat());
        // The PutItem rule stops after two injections.
        for _ in 0..4 {
            assert_eq!(sel.decide(&call("dynamodb", "PutItem"), true), None);
        }
        let stats = sel.stats();
        assert_eq!(stats.total_injected(), 4);
        assert_eq!(
            stats.injected[&("http-503".to_string(), "dynamodb:PutItem".to_string())],
            2
        );
        assert_eq!(stats.requests["dynamodb:PutItem"], 8);
        assert_eq!(stats.injected_into("iam:CreatePolicy"), 1);
    }

    #[test]
    fn body_matchers_pick_one_item_s_write() {
        let plan = FaultPlan::seeded(0).rule(
            Rule::new(Fault::ResetAfterForward)
                .operation("UpdateItem")
                .body_contains("l_rpm_cp")
                .first(1),
        );
        let mut sel = Selector::new(plan);
        let update = call("dynamodb", "UpdateItem");
        assert_eq!(sel.decide_request(&update, br#"{"SET l_rph_cp"}"#, true), None);
        assert_eq!(sel.decide(&update, true), None, "no body, no match");
        assert_eq!(
            sel.decide_request(&update, br#"{"SET l_rpm_cp = :cp"}"#, true),
            Some(Fault::ResetAfterForward)
        );
        assert_eq!(sel.decide_request(&update, br#"{"SET l_rpm_cp = :cp"}"#, true), None);
    }

    #[test]
    fn a_disabled_selector_counts_requests_but_injects_nothing_and_keeps_its_place() {
        let mut sel = Selector::new(FaultPlan::seeded(0).rule(Rule::new(Fault::Throttle).nth(2)));
        assert_eq!(sel.decide(&call("dynamodb", "GetItem"), true), None);
        assert_eq!(sel.decide(&call("dynamodb", "GetItem"), false), None);
        assert_eq!(sel.decide(&call("dynamodb", "GetItem"), true), Some(Fault::Throttle));
        assert_eq!(sel.stats().total_requests(), 3);
    }

    #[test]
    fn the_random_schedule_depends_only_on_the_seed() {
        let schedule = |seed| {
            let plan = FaultPlan::seeded(seed)
                .rule(Rule::new(Fault::Throttle).operation("PutItem").probability(0.3))
                .rule(Rule::new(Fault::ResetAfterForward).probability(0.1));
            let mut sel = Selector::new(plan);
            (0..400)
                .map(|i| sel.decide(&call("dynamodb", if i % 2 == 0 { "PutItem" } else { "GetItem" }), true))
                .collect::<Vec<_>>()
        };
        let a = schedule(42);
        assert_eq!(a, schedule(42));
        assert_ne!(a, schedule(43));
        let throttled = a.iter().filter(|f| **f == Some(Fault::Throttle)).count();
        let resets = a.iter().filter(|f| **f == Some(Fault::ResetAfterForward)).count();
        // 200 PutItems at 0.3 and about 340 remaining requests at 0.1: loose bounds.
        assert!((35..=85).contains(&throttled), "throttled {throttled}");
        assert!((12..=60).contains(&resets), "resets {resets}");
    }

    #[test]
    fn splitmix64_matches_the_reference_sequence() {
        // First outputs of splitmix64 seeded with 0 (Vigna's reference implementation).
        let mut rng = SplitMix64::new(0);
        assert_eq!(rng.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(rng.next_u64(), 0x6E78_9E6A_A1B9_65F4);
        let x = SplitMix64::new(7).next_f64();
        assert!((0.0..1.0).contains(&x));
    }

    #[test]
    fn stats_since_subtracts_an_earlier_snapshot() {
        let mut sel = Selector::new(FaultPlan::seeded(0).rule(Rule::new(Fault::Status(500)).every(2)));
        sel.decide(&call("iam", "GetPolicy"), true);
        sel.decide(&call("iam", "GetPolicy"), true);
        let before = sel.stats().clone();
        sel.decide(&call("sts", "GetCallerIdentity"), true);
        sel.decide(&call("sts", "GetCallerIdentity"), true);
        let delta = sel.stats().since(&before);
        assert_eq!(delta.requests.keys().collect::<Vec<_>>(), ["sts:GetCallerIdentity"]);
        assert_eq!(delta.total_injected(), 1);
        assert_eq!(delta.summary(), "1 faults in 2 requests (GetCallerIdentity 1)");
    }
}
