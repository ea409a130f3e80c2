import Foundation
import Hummingbird
import NIOCore
import NIOEmbedded
import NIOHTTPTypes
import Testing
import FlowStoreCore
@testable import FlowStoreServer

/// Issue 15, item 10(a): a response sent before the request body has been read (413 for a
/// body over the limit, 401 for a bad key) ends the connection (RFC 9112 §9.6), and the client
/// still gets it whether it reads while writing or, like Python's `urllib`, only after writing
/// the whole body.
@Suite("Early final responses close the connection")
struct EarlyResponseTests {
    static let twentyMiB = 20 * 1024 * 1024

    static func head(key: String, length: Int, close: Bool) -> [UInt8] {
        var text = "POST /v5/flows HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        if close { text += "Connection: close\r\n" }
        text += "X-API-KEY: \(key)\r\nContent-Type: application/json\r\nContent-Length: \(length)\r\n\r\n"
        return Array(text.utf8)
    }

    @Test("A 20 MiB body sent in full before reading gets its 413, then EOF", arguments: [true, false])
    func tooLargeWrittenFirst(connectionClose: Bool) async throws {
        try await TestServer.with { s in
            let snapshot = try s.snapshot()
            let exchange = try await RawHTTPClient.sendLargeBody(
                port: s.port, head: Self.head(key: TestServer.writerKey, length: Self.twentyMiB, close: connectionClose),
                bodyLength: Self.twentyMiB, writing: .beforeReading)
            #expect(exchange.response.status == 413)
            #expect(exchange.response["detail"] != nil)
            #expect(exchange.response.headers["connection"] == "close")
            // The server read (and discarded) the rest rather than leaving the client stuck writing.
            #expect(exchange.writeError == nil)
            #expect(exchange.bodyBytesSent == Self.twentyMiB)
            #expect(exchange.closedAfterResponse)
            #expect(try s.snapshot() == snapshot)
        }
    }

    @Test("A 20 MiB body written while reading gets its 413, then EOF; the writer is not left stuck",
          arguments: [true, false])
    func tooLargeWrittenWhileReading(connectionClose: Bool) async throws {
        try await TestServer.with { s in
            let exchange = try await RawHTTPClient.sendLargeBody(
                port: s.port, head: Self.head(key: TestServer.writerKey, length: Self.twentyMiB, close: connectionClose),
                bodyLength: Self.twentyMiB, writing: .whileReading)
            #expect(exchange.response.status == 413)
            #expect(exchange.response.headers["connection"] == "close")
            #expect(exchange.closedAfterResponse)
            // All written, or cut off by the close: never a send that times out unread.
            #expect(exchange.writeError == nil || exchange.writeError == "EPIPE" || exchange.writeError == "ECONNRESET")
        }
    }

    @Test("A bad key with a body sent in full before reading gets its 401, then EOF")
    func unauthorizedWrittenFirst() async throws {
        try await TestServer.with { s in
            let length = 4 * 1024 * 1024
            let exchange = try await RawHTTPClient.sendLargeBody(
                port: s.port, head: Self.head(key: "not-a-key", length: length, close: true),
                bodyLength: length, writing: .beforeReading)
            #expect(exchange.response.status == 401)
            #expect(exchange.response.headers["connection"] == "close")
            #expect(exchange.writeError == nil)
            #expect(exchange.closedAfterResponse)
        }
    }

    @Test("A response to a fully read request keeps the connection open")
    func completeRequestKeepsAlive() async throws {
        try await TestServer.with { s in
            let body = Array(Bodies.flow().utf8)
            let head = Array(
                "POST /v5/flows HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-KEY: \(TestServer.writerKey)\r\nContent-Type: application/json\r\nContent-Length: \(body.count)\r\n\r\n".utf8)
            let second = Array("GET /v5/flows HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-KEY: \(TestServer.writerKey)\r\nConnection: close\r\n\r\n".utf8)
            // Two requests on one connection: the second is answered only if the first left it open.
            let responses = try await RawHTTPClient.sendSequence(port: s.port, requests: [head + body, second])
            #expect(responses.map(\.status) == [200, 200])
            #expect(responses.first?.headers["connection"] == nil)
        }
    }
}

/// The handler alone on an `EmbeddedChannel`, whose clock moves only when told: the bounds of
/// the drain, and what it leaves alone.
@Suite("Early-response close handler")
struct EarlyResponseCloseHandlerTests {
    /// Stands in for the socket at the pipeline's head: an embedded channel cannot half-close
    /// (it would close fully), so output closes are recorded here instead.
    final class SocketStandIn: ChannelOutboundHandler, RemovableChannelHandler {
        typealias OutboundIn = NIOAny
        var outputCloses = 0
        var reads = 0

        func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
            guard mode == .output else { return context.close(mode: mode, promise: promise) }
            outputCloses += 1
            promise?.succeed(())
        }

        func read(context: ChannelHandlerContext) {
            reads += 1
            context.read()
        }
    }

    static let bounds = EarlyResponseCloseHandler.LingerBounds(total: .seconds(30), idle: .seconds(5))

    static func channel() throws -> (EmbeddedChannel, SocketStandIn) {
        let socket = SocketStandIn()
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandlers([socket, EarlyResponseCloseHandler(bounds: bounds)])
        // Connected, so that `isActive` tells whether the handler has closed it.
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        return (channel, socket)
    }

    static let post = HTTPRequest(method: .post, scheme: nil, authority: "127.0.0.1", path: "/v5/flows")
    static let chunk = ByteBuffer(repeating: UInt8(ascii: " "), count: 1024)

    /// Writes a response, as the application would, and returns its head as it left the handler.
    static func respond(_ channel: EmbeddedChannel, status: HTTPResponse.Status) throws -> HTTPResponse? {
        try channel.writeOutbound(HTTPResponsePart.head(HTTPResponse(status: status)))
        try channel.writeOutbound(HTTPResponsePart.end(nil))
        guard case .head(let head) = try channel.readOutbound(as: HTTPResponsePart.self) else { return nil }
        _ = try channel.readOutbound(as: HTTPResponsePart.self)
        return head
    }

    @Test("A response to a request read in full is left alone")
    func completeRequest() throws {
        let (channel, socket) = try Self.channel()
        try channel.writeInbound(HTTPRequestPart.head(Self.post))
        try channel.writeInbound(HTTPRequestPart.body(Self.chunk))
        try channel.writeInbound(HTTPRequestPart.end(nil))
        let head = try Self.respond(channel, status: .ok)
        #expect(head?.headerFields[.connection] == nil)
        #expect(socket.outputCloses == 0)
        channel.embeddedEventLoop.advanceTime(by: .seconds(60))
        #expect(channel.isActive)
        _ = try channel.finish()
    }

    @Test("An early response says Connection: close, closes the output, and the rest is dropped until the request ends")
    func earlyResponseDrainsToTheEnd() throws {
        let (channel, socket) = try Self.channel()
        try channel.writeInbound(HTTPRequestPart.head(Self.post))
        _ = try channel.readInbound(as: HTTPRequestPart.self)
        let head = try Self.respond(channel, status: .contentTooLarge)
        #expect(head?.headerFields[.connection] == "close")
        #expect(socket.outputCloses == 1)
        #expect(socket.reads >= 1)
        for _ in 0..<100 { try channel.writeInbound(HTTPRequestPart.body(Self.chunk)) }
        channel.pipeline.fireChannelReadComplete()
        #expect(try channel.readInbound(as: HTTPRequestPart.self) == nil)
        // Reads go on although the application consumes nothing.
        #expect(socket.reads >= 2)
        try channel.writeInbound(HTTPRequestPart.end(nil))
        channel.embeddedEventLoop.run()
        #expect(!channel.isActive)
    }

    @Test("A drain closes after the idle bound when the client goes quiet, and after the total bound regardless")
    func drainBounds() throws {
        let (quiet, _) = try Self.channel()
        try quiet.writeInbound(HTTPRequestPart.head(Self.post))
        _ = try Self.respond(quiet, status: .unauthorized)
        quiet.embeddedEventLoop.advanceTime(by: .seconds(4))
        #expect(quiet.isActive)
        quiet.embeddedEventLoop.advanceTime(by: .seconds(2))
        #expect(!quiet.isActive)

        let (steady, _) = try Self.channel()
        try steady.writeInbound(HTTPRequestPart.head(Self.post))
        _ = try Self.respond(steady, status: .contentTooLarge)
        // A body part every second: never idle, but cut off at 30 s.
        for _ in 0..<29 {
            try steady.writeInbound(HTTPRequestPart.body(Self.chunk))
            steady.embeddedEventLoop.advanceTime(by: .seconds(1))
        }
        #expect(steady.isActive)
        try steady.writeInbound(HTTPRequestPart.body(Self.chunk))
        steady.embeddedEventLoop.advanceTime(by: .seconds(1))
        #expect(!steady.isActive)
    }

    @Test("A client that closes its side during the drain is closed on")
    func clientHalfClose() throws {
        let (channel, _) = try Self.channel()
        try channel.writeInbound(HTTPRequestPart.head(Self.post))
        _ = try Self.respond(channel, status: .contentTooLarge)
        channel.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        channel.embeddedEventLoop.run()
        #expect(!channel.isActive)
    }

    @Test("A request whose end arrives while the early response is written is closed at once, without a drain")
    func endDuringResponse() throws {
        let (channel, socket) = try Self.channel()
        try channel.writeInbound(HTTPRequestPart.head(Self.post))
        try channel.writeOutbound(HTTPResponsePart.head(HTTPResponse(status: .contentTooLarge)))
        try channel.writeInbound(HTTPRequestPart.end(nil))
        try channel.writeOutbound(HTTPResponsePart.end(nil))
        channel.embeddedEventLoop.run()
        #expect(!channel.isActive)
        #expect(socket.outputCloses == 0)
    }
}
