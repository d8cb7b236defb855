import Foundation
import Prometheus

/// How one field of a counters struct (`DHCPCounters`, `TFTPCounters`, ...) appears in
/// /metrics: a scalar is one sample, a `[String: Int]` by reason one sample per key under `label`.
struct MetricField: Sendable {
    enum Kind: Sendable { case counter, gauge }

    /// The full family name; a counter's ends in `_total` (promtool insists).
    var name: String
    var help: String
    var kind: Kind = .counter
    /// The label a by-reason dictionary's keys go under.
    var label = "reason"
    /// Labels every sample of the field carries (e.g. several scalar fields folded into one family).
    var labels: [(String, String)] = []
}

/// One part's counters as Prometheus families. The struct is read through its `Codable`
/// form (the counters file's keys), so a field or a drop reason added later appears in
/// /metrics without a change here: fields without an entry in `fields` get `unlisted`'s.
struct CounterFamilies: Sendable {
    /// Fields by their counters-file key (snake_case).
    var fields: [String: MetricField] = [:]
    /// Fields left out (e.g. a total that a by-reason field already carries).
    var omitted: Set<String> = []
    /// A field without an entry: by default `<prefix>_<key>_total`, a counter.
    var unlisted: @Sendable (String) -> MetricField

    /// Registers every field of `counters` in `registry`, with `labels` on every sample
    /// (e.g. `listener`). Values that are not numbers or dictionaries of numbers are skipped.
    func register(_ counters: some Encodable, in registry: PrometheusCollectorRegistry, labels: [(String, String)] = []) {
        for (key, value) in Self.fieldValues(counters) where !omitted.contains(key) {
            let field = fields[key] ?? unlisted(key)
            let base = labels + field.labels
            if let number = value as? NSNumber {
                field.record(number.doubleValue, labels: base, in: registry)
            } else if let byKey = value as? [String: Any] {
                for (name, value) in byKey.sorted(by: { $0.key < $1.key }) {
                    guard let number = value as? NSNumber else { continue }
                    field.record(number.doubleValue, labels: base + [(field.label, name)], in: registry)
                }
            }
        }
    }

    /// The counters file's view of a value: key → number or dictionary; empty if it does not encode.
    static func fieldValues(_ counters: some Encodable) -> [(String, Any)] {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        guard let data = try? encoder.encode(counters),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return [] }
        return object.sorted { $0.key < $1.key }
    }

    /// Fields named `<prefix>_<key>_total` with a help line naming the counters-file key.
    static func named(_ prefix: String, part: String) -> @Sendable (String) -> MetricField {
        { key in MetricField(name: "\(prefix)_\(key)_total", help: "\(part) counter '\(key)' (as in the counters file).") }
    }
}

extension MetricField {
    /// Adds one sample. Counters only go up in Prometheus: the registry is made fresh for
    /// each scrape, so adding the running total once gives the total.
    func record(_ value: Double, labels: [(String, String)], in registry: PrometheusCollectorRegistry) {
        switch kind {
        case .counter:
            let base = name.hasSuffix("_total") ? String(name.dropLast("_total".count)) : name
            let descriptor = MetricNameDescriptor(metricName: base, unitName: "total", helpText: help)
            let counter = registry.makeCounter(descriptor: descriptor, labels: labels)
            // Whole numbers stay integers in the text ("3", not "3.0").
            if value >= 0, value < 9.0e18, value == value.rounded() { counter.increment(by: Int64(value)) } else {
                counter.increment(by: max(0, value))
            }
        case .gauge:
            let descriptor = MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
            registry.makeGauge(descriptor: descriptor, labels: labels).set(to: value)
        }
    }
}
