//! Terraform under injected faults (issue 8): per fault class a fresh emulator behind a
//! `testkit::faults::FaultProxy`, and a configuration of one stack, N namespaces (the first
//! two tag an IAM role each) and M limits over the system, resource and entity scopes.
//! Create, update (some limits changed, some removed, some added) and destroy each run
//! under the faults until `terraform apply` converges to an empty plan (at most three
//! applies) or `terraform destroy` to an empty state. Then the emulator is checked
//! directly, not through the proxy: after create and update every configured limit item is
//! there with its capacity (items lost) and no other limit or namespace is (orphans);
//! after destroy no table, no `{stack}-*` policy and no namespace tag on the roles is left.
//!
//! The table (fault class × operation → applies, orphans, items lost, faults injected) is
//! printed and written to `target/fault-report.md`. The test runs a reduced size
//! (`FAULTS_NAMESPACES`, default 3; `FAULTS_LIMITS`, default 12); `benches/faults.sh` runs
//! the full one (10 namespaces, 100 limits). `FAULTS_CLASSES=throttle,reset-after`
//! restricts the classes.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use testkit::Emulator;
use testkit::faults::{Fault, FaultPlan, FaultProxy, FaultStats, Rule};
use zae_limiter::schema::config::ConfigLevel;

use crate::data_plane::{TAG, create_principals, runtime};
use crate::harness::workdir::PROVIDER_SOURCE;
use crate::harness::*;

/// The seed of every class's schedule.
const SEED: u64 = 0x5EED_0008;
/// Share of requests (every service) faulted.
const P: f64 = 0.1;
/// Applies (or destroys) allowed per operation.
const MAX_RUNS: u32 = 3;
/// Roles tagged by the first namespaces.
const TAGGED_ROLES: usize = 2;

/// The fault classes: a label and the fault (`None`: the fault-free control).
fn classes() -> Vec<(&'static str, Option<Fault>)> {
    let all = vec![
        ("none", None),
        ("throttle", Some(Fault::Throttle)),
        ("provisioned-throughput", Some(Fault::ProvisionedThroughputExceeded)),
        ("http-500", Some(Fault::Status(500))),
        ("http-503", Some(Fault::Status(503))),
        ("reset-before", Some(Fault::ResetBeforeForward)),
        ("reset-after", Some(Fault::ResetAfterForward)),
        ("delay", Some(Fault::Delay(Duration::from_millis(50)))),
    ];
    match std::env::var("FAULTS_CLASSES") {
        Ok(list) if !list.trim().is_empty() => {
            let wanted: Vec<&str> = list.split(',').map(str::trim).collect();
            all.into_iter().filter(|(label, _)| wanted.contains(label)).collect()
        }
        _ => all,
    }
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// One configured limit.
#[derive(Debug, Clone, PartialEq, Eq)]
struct LimitSpec {
    key: String,
    namespace: String,
    name: String,
    resource: Option<String>,
    entity_id: Option<String>,
    rate: i64,
}

impl LimitSpec {
    fn level(&self) -> ConfigLevel {
        match (&self.entity_id, &self.resource) {
            (Some(entity_id), resource) => ConfigLevel::Entity {
                entity_id: entity_id.clone(),
                resource: resource.clone().unwrap_or_else(|| "_default_".into()),
            },
            (None, Some(resource)) => ConfigLevel::Resource(resource.clone()),
            (None, None) => ConfigLevel::System,
        }
    }
}

/// The scenario's size and its configurations.
#[derive(Debug, Clone)]
struct Scenario {
    stack: String,
    namespaces: Vec<String>,
    limits: usize,
    /// Whether the stack has an `aggregator` block (function, role, DLQ, log group, mapping).
    aggregator: bool,
}

impl Scenario {
    /// The size `FAULTS_NAMESPACES` × `FAULTS_LIMITS` (default 3 × 12).
    fn new(class: &str) -> Scenario {
        Scenario::sized(
            &format!("fault-{class}"),
            env_usize("FAULTS_NAMESPACES", 3),
            env_usize("FAULTS_LIMITS", 12),
        )
    }

    fn sized(stack: &str, namespaces: usize, limits: usize) -> Scenario {
        Scenario {
            stack: stack.to_string(),
            namespaces: (0..namespaces.max(1)).map(|i| format!("tenant-{i:02}")).collect(),
            limits: limits.max(4),
            aggregator: false,
        }
    }

    /// The same scenario with the stack's aggregator.
    fn with_aggregator(mut self) -> Scenario {
        self.aggregator = true;
        self
    }

    /// Roles tagged: the first two namespaces tag one each; the update drops the second's.
    fn tagged(&self, update: bool) -> usize {
        TAGGED_ROLES.min(self.namespaces.len()) - usize::from(update && self.namespaces.len() > 1)
    }

    fn role(&self, i: usize) -> String {
        format!("{}-role-{i}", self.stack)
    }

    fn spec(&self, i: usize, rate: i64) -> LimitSpec {
        let namespace = self.namespaces[i % self.namespaces.len()].clone();
        let (resource, entity_id) = match i % 3 {
            0 => (None, None),
            1 => (Some(format!("model-{}", i % 4)), None),
            _ => (Some(format!("model-{}", i % 4)), Some(format!("key-{}", i % 5))),
        };
        LimitSpec {
            key: format!("l{i:03}"),
            namespace,
            name: format!("l{i:03}"),
            resource,
            entity_id,
            rate,
        }
    }

    /// The limits of the create step.
    fn initial(&self) -> Vec<LimitSpec> {
        (0..self.limits).map(|i| self.spec(i, 100 + i as i64)).collect()
    }

    /// The update: every fifth limit's rate changed, the last three removed, three added.
    fn updated(&self) -> Vec<LimitSpec> {
        let kept = self.limits - 3;
        let mut out: Vec<LimitSpec> = (0..kept)
            .map(|i| {
                let rate = if i % 5 == 0 { 1000 + i } else { 100 + i };
                self.spec(i, rate as i64)
            })
            .collect();
        out.extend((self.limits..self.limits + 3).map(|i| self.spec(i, 100 + i as i64)));
        out
    }

    fn hcl(&self, endpoint: &str, limits: &[LimitSpec], tagged: usize) -> String {
        let mut hcl = format!(
            r#"terraform {{
  required_providers {{
    zae = {{ source = "{PROVIDER_SOURCE}" }}
  }}
}}

provider "zae" {{
  region       = "{}"
  endpoint_url = "{endpoint}"
}}

resource "zae_limiter_stack" "main" {{
  name               = "{}"
  pitr_recovery_days = 0
{}}}
"#,
            testkit::REGION,
            self.stack,
            if self.aggregator { "  aggregator {}\n" } else { "" }
        );
        for (i, ns) in self.namespaces.iter().enumerate() {
            let tags = if i < tagged {
                format!("  principal_tags = {{\n    roles = [\"{}\"]\n  }}\n", self.role(i))
            } else {
                String::new()
            };
            let _ = write!(
                hcl,
                "\nresource \"zae_limiter_namespace\" \"{ns}\" {{\n  stack = zae_limiter_stack.main.name\n  \
                 name  = \"{ns}\"\n{tags}}}\n"
            );
        }
        hcl.push_str("\nlocals {\n  limits = {\n");
        for l in limits {
            let opt = |v: &Option<String>| v.as_ref().map(|s| format!("\"{s}\"")).unwrap_or_else(|| "null".into());
            let _ = writeln!(
                hcl,
                "    {} = {{ namespace = \"{}\", name = \"{}\", resource = {}, entity_id = {}, rate = {} }}",
                l.key,
                l.namespace,
                l.name,
                opt(&l.resource),
                opt(&l.entity_id),
                l.rate
            );
        }
        hcl.push_str("  }\n}\n");
        // One limit block per namespace, so that a namespace that fails holds back only
        // its own limits.
        for ns in &self.namespaces {
            let _ = write!(
                hcl,
                r#"
resource "zae_limiter_limit" "{ns}" {{
  for_each  = {{ for k, v in local.limits : k => v if v.namespace == "{ns}" }}
  stack     = zae_limiter_stack.main.name
  namespace = zae_limiter_namespace.{ns}.name
  resource  = each.value.resource
  entity_id = each.value.entity_id
  name      = each.value.name
  rate      = each.value.rate
  per       = "minute"
}}
"#
            );
        }
        hcl
    }
}

/// One row of the report.
#[derive(Debug, Clone)]
struct Row {
    class: String,
    op: &'static str,
    /// Applies (or destroys) run; the operation converged when `converged`.
    runs: u32,
    converged: bool,
    orphans: usize,
    lost: usize,
    stats: FaultStats,
    secs: f64,
    notes: Vec<String>,
}

/// The emulator as seen directly (not through the proxy).
struct Direct {
    ddb: aws_sdk_dynamodb::Client,
    iam: aws_sdk_iam::Client,
    sdk: aws_config::SdkConfig,
    rt: tokio::runtime::Runtime,
}

type Item = HashMap<String, AttributeValue>;

impl Direct {
    fn new(emulator: &Emulator) -> Direct {
        let rt = runtime();
        let config = rt.block_on(emulator.sdk_config());
        Direct {
            ddb: aws_sdk_dynamodb::Client::new(&config),
            iam: aws_sdk_iam::Client::new(&config),
            sdk: config,
            rt,
        }
    }

    fn table_exists(&self, stack: &str) -> bool {
        let tables = self.rt.block_on(self.ddb.list_tables().send()).expect("ListTables");
        tables.table_names().iter().any(|t| t == stack)
    }

    fn scan(&self, stack: &str) -> Vec<Item> {
        let mut items = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let out = self
                .rt
                .block_on(
                    self.ddb
                        .scan()
                        .table_name(stack)
                        .set_exclusive_start_key(start.take())
                        .send(),
                )
                .expect("Scan");
            items.extend(out.items().iter().cloned());
            match out.last_evaluated_key() {
                Some(k) if !k.is_empty() => start = Some(k.clone()),
                _ => return items,
            }
        }
    }

    fn policies_left(&self, stack: &str) -> Vec<String> {
        let out = self
            .rt
            .block_on(
                self.iam
                    .list_policies()
                    .scope(aws_sdk_iam::types::PolicyScopeType::Local)
                    .max_items(1000)
                    .send(),
            )
            .expect("ListPolicies");
        out.policies()
            .iter()
            .filter_map(|p| p.policy_name())
            .filter(|n| n.starts_with(&format!("{stack}-")))
            .map(String::from)
            .collect()
    }

    /// The pieces of `stack`'s aggregator that still exist (function, role, DLQ).
    fn aggregator_left(&self, stack: &str) -> Vec<String> {
        let lambda = aws_sdk_lambda::Client::new(&self.sdk);
        let sqs = aws_sdk_sqs::Client::new(&self.sdk);
        let mut left = Vec::new();
        let function = format!("{stack}-aggregator");
        if self
            .rt
            .block_on(lambda.get_function().function_name(&function).send())
            .is_ok()
        {
            left.push(function);
        }
        let role = format!("{stack}-aggr");
        if self.rt.block_on(self.iam.get_role().role_name(&role).send()).is_ok() {
            left.push(role);
        }
        let queue = format!("{stack}-aggregator-dlq");
        if self.rt.block_on(sqs.get_queue_url().queue_name(&queue).send()).is_ok() {
            left.push(queue);
        }
        left
    }

    fn role_tag(&self, role: &str) -> Option<String> {
        let out = self
            .rt
            .block_on(self.iam.list_role_tags().role_name(role).send())
            .expect("ListRoleTags");
        out.tags()
            .iter()
            .find(|t| t.key() == TAG)
            .map(|t| t.value().to_string())
    }
}

fn s(item: &Item, name: &str) -> String {
    item.get(name).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default()
}

/// Items lost and orphans of a live stack: every configured limit must be stored with its
/// capacity, every configured namespace registered (and the tagged roles tagged with its
/// id); any other limit, namespace or tag is an orphan.
fn check_live(
    direct: &Direct,
    sc: &Scenario,
    limits: &[LimitSpec],
    tagged: usize,
    notes: &mut Vec<String>,
) -> (usize, usize) {
    if !direct.table_exists(&sc.stack) {
        notes.push("table missing".into());
        return (limits.len() + sc.namespaces.len(), 0);
    }
    let items = direct.scan(&sc.stack);
    let table = zae_limiter::Table::new(direct.ddb.clone(), sc.stack.clone());
    let ns_ids: BTreeMap<String, String> = direct
        .rt
        .block_on(table.list_namespaces())
        .expect("list namespaces")
        .into_iter()
        .map(|r| (r.name, r.id))
        .collect();
    let by_key: HashMap<(String, String), &Item> = items.iter().map(|i| ((s(i, "PK"), s(i, "SK")), i)).collect();
    let (mut lost, mut orphans) = (0, 0);
    for ns in &sc.namespaces {
        if !ns_ids.contains_key(ns) {
            lost += 1;
            notes.push(format!("namespace {ns} not registered"));
        }
    }
    for name in ns_ids.keys() {
        if name != "default" && !sc.namespaces.contains(name) {
            orphans += 1;
            notes.push(format!("namespace {name} registered but not configured"));
        }
    }
    for (i, ns) in sc.namespaces.iter().enumerate().take(TAGGED_ROLES) {
        let tag = direct.role_tag(&sc.role(i));
        if i < tagged && (tag.is_none() || tag.as_ref() != ns_ids.get(ns)) {
            lost += 1;
            notes.push(format!(
                "role {} tagged {tag:?}, namespace id {:?}",
                sc.role(i),
                ns_ids.get(ns)
            ));
        } else if i >= tagged && tag.is_some() {
            orphans += 1;
            notes.push(format!("role {} still tagged {tag:?}", sc.role(i)));
        }
    }
    let mut expected: BTreeSet<(String, String, String)> = BTreeSet::new();
    for l in limits {
        let Some(id) = ns_ids.get(&l.namespace) else {
            lost += 1;
            continue;
        };
        let key = l.level().key(id);
        let (pk, sk) = (s(&key, "PK"), s(&key, "SK"));
        let attr = zae_limiter::schema::config::limit_attr(&l.name, "cp");
        let stored = by_key
            .get(&(pk.clone(), sk.clone()))
            .and_then(|item| item.get(&attr))
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse::<i64>().ok());
        if stored != Some(l.rate) {
            lost += 1;
            notes.push(format!(
                "limit {} stored capacity {stored:?}, configured {}",
                l.key, l.rate
            ));
        }
        expected.insert((pk, sk, attr));
    }
    for item in items.iter().filter(|i| s(i, "SK").starts_with("#CONFIG")) {
        for attr in item
            .keys()
            .filter(|a| (a.starts_with("l_") || a.starts_with("w_")) && a.ends_with("_cp"))
        {
            let key = (s(item, "PK"), s(item, "SK"), attr.clone());
            if !expected.contains(&key) {
                orphans += 1;
                notes.push(format!("limit {attr} on {} {} not configured", key.0, key.1));
            }
        }
    }
    (lost, orphans)
}

/// Orphans after destroy: the table (and its items), `{stack}-*` policies, role tags.
fn check_destroyed(direct: &Direct, sc: &Scenario, notes: &mut Vec<String>) -> usize {
    let mut orphans = 0;
    if direct.table_exists(&sc.stack) {
        let items = direct.scan(&sc.stack).len();
        orphans += 1 + items;
        notes.push(format!("table {} left with {items} items", sc.stack));
    }
    let policies = direct.policies_left(&sc.stack);
    if !policies.is_empty() {
        orphans += policies.len();
        notes.push(format!("policies left: {policies:?}"));
    }
    for i in 0..TAGGED_ROLES.min(sc.namespaces.len()) {
        if let Some(tag) = direct.role_tag(&sc.role(i)) {
            orphans += 1;
            notes.push(format!("role {} still tagged {tag}", sc.role(i)));
        }
    }
    if sc.aggregator {
        let left = direct.aggregator_left(&sc.stack);
        if !left.is_empty() {
            orphans += left.len();
            notes.push(format!("aggregator pieces left: {left:?}"));
        }
    }
    orphans
}

/// The first error lines of a failed command, for the notes.
fn first_error(err: &anyhow::Error) -> String {
    let text = format!("{err:#}");
    let lines: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.contains("Error"))
        .filter(|l| !l.trim().is_empty() && !l.trim().starts_with("with ") && !l.contains("on main.tf"))
        .take(3)
        .collect();
    lines.join(" / ").replace('|', "¦").chars().take(400).collect()
}

/// Applies until the plan is empty (at most [`MAX_RUNS`] applies).
fn converge_apply(wd: &WorkDir, notes: &mut Vec<String>, log: &mut String) -> (u32, bool) {
    for run in 1..=MAX_RUNS {
        match wd.terraform().apply() {
            Ok(_) => match wd.terraform().plan() {
                Ok(Plan::NoChanges) => return (run, true),
                Ok(Plan::Changes { text }) => {
                    notes.push(format!("apply {run} left a non-empty plan"));
                    let _ = writeln!(log, "--- plan after apply {run} ---\n{text}");
                }
                Err(e) => {
                    notes.push(format!("plan after apply {run} failed: {}", first_error(&e)));
                    let _ = writeln!(log, "--- plan after apply {run} ---\n{e:#}");
                }
            },
            Err(e) => {
                notes.push(format!("apply {run}: {}", first_error(&e)));
                let _ = writeln!(log, "--- apply {run} ---\n{e:#}");
            }
        }
    }
    (MAX_RUNS, false)
}

/// Destroys until the state is empty (at most [`MAX_RUNS`] destroys).
fn converge_destroy(wd: &WorkDir, notes: &mut Vec<String>, log: &mut String) -> (u32, bool) {
    for run in 1..=MAX_RUNS {
        match wd.terraform().destroy() {
            Ok(_) => match wd.terraform().state_list() {
                Ok(list) if list.is_empty() => return (run, true),
                Ok(list) => notes.push(format!("destroy {run} left {} resources in state", list.len())),
                Err(e) => notes.push(format!("state list failed: {}", first_error(&e))),
            },
            Err(e) => {
                notes.push(format!("destroy {run}: {}", first_error(&e)));
                let _ = writeln!(log, "--- destroy {run} ---\n{e:#}");
            }
        }
    }
    (MAX_RUNS, false)
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"))
}

/// Runs create, update and destroy of one class; returns its three rows.
fn run_class(label: &str, fault: Option<Fault>) -> Vec<Row> {
    let plan = match fault {
        Some(f) => FaultPlan::seeded(SEED).rule(Rule::new(f).probability(P)),
        None => FaultPlan::none(),
    };
    run_scenario(&Scenario::new(label), plan, label)
}

/// Runs create, update and destroy of `sc` through a proxy running `plan`; returns the
/// three rows, labelled `label`.
fn run_scenario(sc: &Scenario, plan: FaultPlan, label: &str) -> Vec<Row> {
    let emulator = Emulator::start();
    let roles: Vec<String> = (0..TAGGED_ROLES.min(sc.namespaces.len())).map(|i| sc.role(i)).collect();
    create_principals(&emulator, &roles.iter().map(String::as_str).collect::<Vec<_>>(), &[]);
    let proxy = FaultProxy::start(emulator.addr(), plan);
    let direct = Direct::new(&emulator);
    let mut wd = WorkDir::new(&TerraformBinary::pinned());
    for (key, value) in proxy.aws_env() {
        wd.set_env(key, value);
    }
    let log_dir = target_dir().join("fault-logs");
    let _ = std::fs::create_dir_all(&log_dir);

    let mut rows = Vec::new();
    let ops: [(&'static str, Option<Vec<LimitSpec>>, usize); 3] = [
        ("create", Some(sc.initial()), sc.tagged(false)),
        ("update", Some(sc.updated()), sc.tagged(true)),
        ("destroy", None, 0),
    ];
    for (op, limits, tagged) in ops {
        let before = proxy.stats();
        let start = Instant::now();
        let mut notes = Vec::new();
        let mut log = String::new();
        let (runs, converged, lost, orphans) = match &limits {
            Some(limits) => {
                wd.write_config(&sc.hcl(&proxy.endpoint(), limits, tagged));
                let (runs, converged) = converge_apply(&wd, &mut notes, &mut log);
                let (lost, orphans) = check_live(&direct, sc, limits, tagged, &mut notes);
                (runs, converged, lost, orphans)
            }
            None => {
                let (runs, converged) = converge_destroy(&wd, &mut notes, &mut log);
                (runs, converged, 0, check_destroyed(&direct, sc, &mut notes))
            }
        };
        if !log.is_empty() {
            let _ = std::fs::write(log_dir.join(format!("{label}-{op}.log")), &log);
        }
        let row = Row {
            class: label.to_string(),
            op,
            runs,
            converged,
            orphans,
            lost,
            stats: proxy.stats().since(&before),
            secs: start.elapsed().as_secs_f64(),
            notes,
        };
        eprintln!(
            "FAULTS {label} {op}: runs {runs} converged {converged} orphans {orphans} lost {lost} {:.1}s; {}; {}",
            row.secs,
            row.stats.summary(),
            row.notes.join("; ")
        );
        rows.push(row);
    }
    rows
}

/// What a scenario does, for report titles.
fn describe(sc: &Scenario) -> String {
    format!(
        "1 stack, {} namespaces ({} tagging an IAM role), {} limits; update: {} changed, 3 removed, 3 added, \
         one role untagged",
        sc.namespaces.len(),
        sc.tagged(false),
        sc.limits,
        sc.limits.saturating_sub(3).div_ceil(5),
    )
}

fn report(title: &str, rows: &[Row], wall: Duration) -> String {
    let mut out = format!("## {title}\n\n");
    out.push_str("| fault class | operation | applies to converge | orphans | items lost | faults injected / requests | time (s) | notes |\n");
    out.push_str("|---|---|---|---|---|---|---|---|\n");
    for r in rows {
        let runs = if r.converged {
            r.runs.to_string()
        } else {
            format!("not converged after {}", r.runs)
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} / {} | {:.1} | {} |",
            r.class,
            r.op,
            runs,
            r.orphans,
            r.lost,
            r.stats.total_injected(),
            r.stats.total_requests(),
            r.secs,
            r.notes.join("; ").replace('|', "¦")
        );
    }
    let _ = writeln!(out, "\nTotal wall time {:.0} s.", wall.as_secs_f64());
    out
}

#[test]
fn every_fault_class_converges_within_three_applies_and_leaves_nothing_behind() {
    let start = Instant::now();
    let classes = classes();
    assert!(!classes.is_empty(), "FAULTS_CLASSES selects no class");
    let mut rows = Vec::new();
    for (label, fault) in &classes {
        rows.extend(run_class(label, *fault));
    }
    let title = format!(
        "Fault injection: {}; p = {P}, seed {SEED:#x}, at most {MAX_RUNS} applies per operation",
        describe(&Scenario::new("report"))
    );
    write_report("fault-report.md", &report(&title, &rows, start.elapsed()));

    let bad: Vec<String> = rows
        .iter()
        .filter(|r| !r.converged || r.orphans > 0 || r.lost > 0)
        .map(|r| format!("{} {}: {}", r.class, r.op, r.notes.join("; ")))
        .collect();
    assert!(
        bad.is_empty(),
        "fault classes that did not converge cleanly:\n{}",
        bad.join("\n")
    );
    for r in rows.iter().filter(|r| r.class != "none") {
        assert!(
            r.stats.total_injected() > 0 || r.stats.total_requests() < 10,
            "{} {}: no fault injected in {} requests",
            r.class,
            r.op,
            r.stats.total_requests()
        );
    }
}

/// Prints `table` and writes it to `target/<name>`.
fn write_report(name: &str, table: &str) {
    println!("{table}");
    let path = target_dir().join(name);
    let _ = std::fs::write(&path, table);
    eprintln!("fault report written to {}", path.display());
}

/// Whether an operation changes something (a lost response can only hurt those).
fn is_mutating(operation: &str) -> bool {
    !["Get", "List", "Describe", "Query", "Scan", "BatchGet"]
        .iter()
        .any(|p| operation.starts_with(p))
}

/// Which calls of an operation to drop, from a fault-free run's per-phase counts: the
/// first and the last call of each phase (create, update, destroy) that sends it, as
/// (1-based position over the whole run, description).
fn drop_positions(baseline: &[Row], key: &str) -> Vec<(u64, String)> {
    let mut out: Vec<(u64, String)> = Vec::new();
    let mut before = 0;
    for row in baseline {
        let n = row.stats.requests.get(key).copied().unwrap_or(0);
        if n > 0 {
            out.push((before + 1, format!("first of {}", row.op)));
            if n > 1 {
                out.push((before + n, format!("last of {}", row.op)));
            }
        }
        before += n;
    }
    out
}

/// For each mutating AWS operation a fault-free create, update and destroy sends, runs in
/// which the first or the last call of that operation in each phase is applied by the
/// emulator but its response is dropped (the case a retry can turn into "already exists"
/// or "not found").
#[test]
fn a_dropped_response_to_each_mutating_operation_converges() {
    let start = Instant::now();
    let size = |stack: &str| Scenario::sized(stack, 2, 6);
    let baseline = run_scenario(&size("drop-baseline"), FaultPlan::none(), "none");
    let operations: BTreeSet<String> = baseline
        .iter()
        .flat_map(|r| r.stats.requests.keys().cloned())
        .filter(|key| key.split_once(':').is_some_and(|(_, op)| is_mutating(op)))
        .collect();
    assert!(
        operations.contains("dynamodb:CreateTable") && operations.contains("iam:CreatePolicy"),
        "the baseline sent {operations:?}"
    );
    let mut rows = Vec::new();
    let mut case = 0;
    for key in &operations {
        let (service, operation) = key.split_once(':').expect("service:Operation");
        for (nth, which) in drop_positions(&baseline, key) {
            case += 1;
            let plan = FaultPlan::seeded(SEED).rule(
                Rule::new(Fault::ResetAfterForward)
                    .service(service)
                    .operation(operation)
                    .nth(nth),
            );
            let sc = size(&format!("drop-{case}"));
            let label = format!("dropped {operation} #{nth} ({which})");
            // Only the phase the fault landed in, and failures.
            rows.extend(
                run_scenario(&sc, plan, &label)
                    .into_iter()
                    .filter(|r| r.stats.total_injected() > 0 || !r.converged || r.orphans > 0 || r.lost > 0),
            );
        }
    }
    let title = format!(
        "Dropped responses (ResetAfterForward), one call at a time: {}",
        describe(&size("report"))
    );
    write_report("fault-report-dropped.md", &report(&title, &rows, start.elapsed()));
    let bad: Vec<String> = rows
        .iter()
        .filter(|r| !r.converged || r.orphans > 0 || r.lost > 0)
        .map(|r| format!("{} {}: {}", r.class, r.op, r.notes.join("; ")))
        .collect();
    assert!(
        bad.is_empty(),
        "dropped responses that did not converge cleanly:\n{}",
        bad.join("\n")
    );
}

/// A dropped `CreatePolicy` response: the SDK's retry gets `EntityAlreadyExists`, and the
/// provider recognises the policy as the one it just created (created during the call,
/// same document, description and tags), so the first apply already succeeds.
#[test]
fn a_dropped_create_policy_response_is_recognised_within_the_same_apply() {
    let sc = Scenario::sized("drop-own-policy", 1, 4);
    let plan = FaultPlan::seeded(SEED).rule(
        Rule::new(Fault::ResetAfterForward)
            .service("iam")
            .operation("CreatePolicy")
            .nth(1),
    );
    let rows = run_scenario(&sc, plan, "dropped 1st CreatePolicy");
    let create = &rows[0];
    assert_eq!(create.stats.injected_into("iam:CreatePolicy"), 1, "{create:?}");
    assert!(
        create.converged && create.runs == 1 && create.orphans == 0 && create.lost == 0,
        "{create:?}"
    );
    for r in &rows[1..] {
        assert!(r.converged && r.orphans == 0 && r.lost == 0, "{r:?}");
    }
}

/// A stack with its aggregator, the responses of its `CreateRole` and `CreateFunction`
/// dropped: each retry finds the object its own call made (created during the call with
/// what was asked; the function by its package's hash), so the first apply succeeds and
/// destroy leaves nothing.
#[test]
fn dropped_aggregator_role_and_function_responses_are_recognised() {
    crate::aggregator::built_package();
    let sc = Scenario::sized("drop-own-aggregator", 1, 4).with_aggregator();
    let plan = FaultPlan::seeded(SEED)
        .rule(
            Rule::new(Fault::ResetAfterForward)
                .service("iam")
                .operation("CreateRole")
                .nth(1),
        )
        .rule(
            Rule::new(Fault::ResetAfterForward)
                .service("lambda")
                .operation("CreateFunction")
                .nth(1),
        );
    let rows = run_scenario(&sc, plan, "dropped CreateRole + CreateFunction");
    let create = &rows[0];
    assert_eq!(create.stats.injected_into("iam:CreateRole"), 1, "{create:?}");
    assert_eq!(create.stats.injected_into("lambda:CreateFunction"), 1, "{create:?}");
    assert!(
        create.converged && create.runs == 1 && create.orphans == 0,
        "{create:?}"
    );
    for r in &rows[1..] {
        assert!(r.converged && r.orphans == 0 && r.lost == 0, "{r:?}");
    }
}

/// Finding F1 of the first fault-suite run (reset-after did not converge): a namespace registration
/// (TransactWriteItems of the forward and reverse records) whose response is dropped. The
/// stack's own `default` registration is the first TransactWriteItems, the namespace's the
/// second (the limits wait for the namespace). The SDK's retry fails its conditions and
/// finds the namespace under the id this create chose: it must count as created.
#[test]
fn a_dropped_namespace_registration_response_converges() {
    let sc = Scenario::sized("drop-own-namespace", 1, 4);
    let plan = FaultPlan::seeded(SEED).rule(
        Rule::new(Fault::ResetAfterForward)
            .service("dynamodb")
            .operation("TransactWriteItems")
            .nth(2),
    );
    let rows = run_scenario(&sc, plan, "dropped namespace registration");
    assert_eq!(
        rows[0].stats.injected_into("dynamodb:TransactWriteItems"),
        1,
        "{:?}",
        rows[0]
    );
    for r in &rows {
        assert!(r.converged && r.orphans == 0 && r.lost == 0, "{r:?}");
    }
}

/// Finding F2 of the first fault-suite run: the first write of a limit (system
/// scope: an `UpdateItem` of the config item; entity scope: a `TransactWriteItems` with the
/// registry increment) is applied but its response is dropped. The SDK's retry fails the
/// write's `attribute_not_exists` condition: the create must recognise its own write, and
/// when the update then removes the limit nothing may be left behind.
#[test]
fn a_dropped_limit_create_response_converges() {
    for (operation, limit) in [("UpdateItem", "l000"), ("TransactWriteItems", "l002")] {
        let sc = Scenario::sized(&format!("drop-own-{limit}"), 1, 4);
        let plan = FaultPlan::seeded(SEED).rule(
            Rule::new(Fault::ResetAfterForward)
                .service("dynamodb")
                .operation(operation)
                .body_contains(&format!("l_{limit}_cp"))
                .first(1),
        );
        let rows = run_scenario(&sc, plan, &format!("dropped create of {limit}"));
        assert_eq!(rows[0].stats.total_injected(), 1, "{:?}", rows[0]);
        for r in &rows {
            assert!(r.converged && r.orphans == 0 && r.lost == 0, "{r:?}");
        }
    }
}
