/// RFC 3925 option 125, Vendor-Identifying Vendor-Specific Information (VIVSO): sub-options
/// grouped under the IANA enterprise number that defines them. ONIE reads its installer
/// URL from enterprise 42623, sub-option 1, and sends its machine, arch and revision in
/// sub-options 3, 4 and 5 of the same enterprise.
///
/// Wire form, repeated: enterprise (4 bytes), data length (1 byte), then code/length/data
/// sub-options filling exactly that length (`EnterpriseBlocks`, then `SubOptions`).
public struct VendorIdentifyingOptions: Sendable, Hashable {
    public struct Vendor: Sendable, Hashable {
        public var enterprise: UInt32
        public var subOptions: [DHCPOption]

        public init(enterprise: UInt32, subOptions: [DHCPOption]) {
            self.enterprise = enterprise
            self.subOptions = subOptions
        }
    }

    public var vendors: [Vendor]

    public init(_ vendors: [Vendor]) { self.vendors = vendors }

    /// Parses option 125's data: any bytes give a value or an error saying where the
    /// framing breaks, never a trap.
    public init(parsing data: [UInt8]) throws(OptionDataError) {
        var vendors: [Vendor] = []
        for block in try EnterpriseBlocks.parse(data) {
            vendors.append(Vendor(enterprise: block.enterprise, subOptions: try SubOptions.parse(block.data, base: block.dataOffset)))
        }
        self.vendors = vendors
    }

    /// The wire bytes; `.tooLong` when a sub-option's data exceeds 255 bytes or one
    /// enterprise's sub-options together do (the format has one length byte for each).
    public func serialize() throws(OptionDataError) -> [UInt8] {
        var blocks: [(enterprise: UInt32, data: [UInt8])] = []
        for vendor in vendors { blocks.append((vendor.enterprise, try SubOptions.serialize(vendor.subOptions))) }
        return try EnterpriseBlocks.serialize(blocks)
    }

    /// `serialize()`, nil where it refuses.
    public var serialized: [UInt8]? { try? serialize() }

    /// The first sub-option `code` of `enterprise`, if sent.
    public func subOption(_ code: UInt8, enterprise: UInt32) -> [UInt8]? {
        for vendor in vendors where vendor.enterprise == enterprise {
            if let found = vendor.subOptions.first(where: { $0.code == code }) { return found.data }
        }
        return nil
    }
}

/// RFC 3925 option 124, Vendor-Identifying Vendor Class: opaque class strings grouped
/// under an IANA enterprise number. Wire form, repeated: enterprise (4 bytes), data length
/// (1 byte), then length-prefixed class items filling exactly that length.
public struct VendorIdentifyingClasses: Sendable, Hashable {
    public struct Vendor: Sendable, Hashable {
        public var enterprise: UInt32
        public var classes: [[UInt8]]

        public init(enterprise: UInt32, classes: [[UInt8]]) {
            self.enterprise = enterprise
            self.classes = classes
        }
    }

    public var vendors: [Vendor]

    public init(_ vendors: [Vendor]) { self.vendors = vendors }

    /// Parses option 124's data: any bytes give a value or an error saying where the
    /// framing breaks, never a trap.
    public init(parsing data: [UInt8]) throws(OptionDataError) {
        var vendors: [Vendor] = []
        for block in try EnterpriseBlocks.parse(data) {
            let items = try LengthFramed.parse(block.data, headerSize: 0, base: block.dataOffset)
            vendors.append(Vendor(enterprise: block.enterprise, classes: items.map(\.data)))
        }
        self.vendors = vendors
    }

    /// The wire bytes; `.tooLong` when a class item, or one enterprise's items together,
    /// do not fit their one length byte.
    public func serialize() throws(OptionDataError) -> [UInt8] {
        var blocks: [(enterprise: UInt32, data: [UInt8])] = []
        for vendor in vendors {
            var data: [UInt8] = []
            for (index, item) in vendor.classes.enumerated() {
                try LengthFramed.append(header: 0, headerSize: 0, data: item, index: index, to: &data)
            }
            blocks.append((vendor.enterprise, data))
        }
        return try EnterpriseBlocks.serialize(blocks)
    }

    /// `serialize()`, nil where it refuses.
    public var serialized: [UInt8]? { try? serialize() }

    /// Every class item as text (bytes that are not UTF-8 replaced), with its enterprise.
    public var texts: [(enterprise: UInt32, text: String)] {
        vendors.flatMap { vendor in vendor.classes.map { (vendor.enterprise, DHCPOptions.text($0)) } }
    }
}
