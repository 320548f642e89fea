// Finding 10 (docs/fuzzing.md): LeakSanitizer reported a parsed config.json
// that a harness kept to the end of the process as leaked. The values were
// alive; LeakSanitizer could not see the references to them. An `indirect`
// enum with several payload cases keeps each payload in a heap box and writes
// the case into spare bits of the box's address, and an address with those
// bits set is not one LeakSanitizer recognises. So the document trees the
// readers build (JSON, pickle) recurse through arrays instead, and store every
// payload as it is: these tests check that a payload's bytes sit unchanged at
// the start of the value (in an `indirect` enum they would be a box's address,
// and a tag in spare bits would change them).

@testable import Formats
import Testing

/// True when `value` begins with `payload`'s bytes, unchanged.
private func storesUnchanged<Value, Payload>(_ value: Value, _ payload: Payload) -> Bool {
    let head = withUnsafeBytes(of: value) { Array($0.prefix(MemoryLayout<Payload>.size)) }
    return head == withUnsafeBytes(of: payload) { Array($0) }
}

@Suite struct LeakVisibilityTests {
    @Test func jsonValuesStoreTheirPayloadsUntagged() throws {
        let long = String(repeating: "a long key, not a small string ", count: 3)
        let array: [JSONValue] = [.string(long), .null]
        let object = JSONObject([(long, .array(array))])
        let number = JSONNumber(literal: "1.0000000000000000000000000e-300")
        #expect(storesUnchanged(JSONValue.array(array), array))
        #expect(storesUnchanged(JSONValue.object(object), object))
        #expect(storesUnchanged(JSONValue.string(long), long))
        #expect(storesUnchanged(JSONValue.number(number), number))
        // What the fuzzer's process kept: a parsed document, nested.
        let parsed = try JSONParser.parse("{\"\(long)\": [{\"x\": [1, 2.5, \"\(long)\"]}]}")
        let members = try #require(parsed.object)
        #expect(storesUnchanged(parsed, members))
        let member = try #require(members[long])
        let inner = try #require(member.array)
        #expect(storesUnchanged(member, inner))
    }

    @Test func pickleValuesStoreTheirPayloadsUntagged() {
        let list = PickleList()
        let dict = PickleDict()
        let items: [PickleValue] = [.int(1), .string("a string longer than fifteen bytes")]
        let bytes: [UInt8] = Array(repeating: 7, count: 40)
        #expect(storesUnchanged(PickleValue.list(list), list))
        #expect(storesUnchanged(PickleValue.dict(dict), dict))
        #expect(storesUnchanged(PickleValue.orderedDict(dict), dict))
        #expect(storesUnchanged(PickleValue.bytes(bytes), bytes))
        #expect(storesUnchanged(PickleValue.tuple(items, depth: 1), items))
    }
}
