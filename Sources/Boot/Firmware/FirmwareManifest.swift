import Foundation

/// `firmware/manifest.json`: the boot loaders ZoneBoot hands out, where each comes from
/// and what it must hash to. `make firmware` fills `firmware/cache/` from it; no binary
/// is committed.
public struct FirmwareManifest: Sendable, Codable, Equatable {
    public struct Loader: Sendable, Codable, Equatable {
        /// The name it is served under: over TFTP, and at `/loaders/<file>` over HTTP.
        public var file: String
        public var architecture: BootArchitecture
        public var sha256: String
        public var size: Int
        public var from: Origin
    }

    /// Where `make firmware` takes the file from.
    public struct Origin: Sendable, Codable, Equatable {
        public var debianPackage: String
        public var version: String
        public var path: String

        enum CodingKeys: String, CodingKey {
            case debianPackage = "debian_package", version, path
        }
    }

    public var loaders: [Loader]

    /// Why the firmware cannot be used; each names the manifest and the entry.
    public struct Problem: Error, CustomStringConvertible, Equatable {
        public var description: String
    }

    public static func load(directory: String) throws(Problem) -> FirmwareManifest {
        let path = (directory as NSString).appendingPathComponent("manifest.json")
        guard let data = FileManager.default.contents(atPath: path) else {
            throw Problem(description: "\(path): cannot read the firmware manifest")
        }
        do {
            return try JSONDecoder().decode(FirmwareManifest.self, from: data)
        } catch {
            throw Problem(description: "\(path): not a firmware manifest: \(error)")
        }
    }

    /// The loaders present in `<directory>/cache` with the size the manifest gives. A
    /// missing or different file is an error that says which entry and how to fix it:
    /// serving a truncated loader would fail at the machine, far from the cause.
    public func installedLoaders(directory: String) throws(Problem) -> BootLoaders {
        let manifest = (directory as NSString).appendingPathComponent("manifest.json")
        let cache = Self.cacheDirectory(directory)
        var available: Set<String> = []
        for (index, loader) in loaders.enumerated() {
            let path = (cache as NSString).appendingPathComponent(loader.file)
            let entry = "\(manifest): loaders[\(index)] \(loader.file) (\(loader.architecture.rawValue))"
            guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
                  let size = attributes[.size] as? Int else {
                throw Problem(description: "\(entry): \(path) is missing; run `make firmware`")
            }
            guard size == loader.size else {
                throw Problem(description: "\(entry): \(path) has \(size) bytes, the manifest says \(loader.size); run `make firmware`")
            }
            available.insert(loader.file)
        }
        return BootLoaders(available: available)
    }

    public static func cacheDirectory(_ directory: String) -> String {
        (directory as NSString).appendingPathComponent("cache")
    }
}
