//! What sio-protocol puts on the wire, and reads back: a Socket.IO event with typed arguments and
//! a binary attachment, an Engine.IO polling payload, and the reconnection delays of
//! socket.io-client.
//!
//! Run it with `cargo run -p sio-examples --example demo`.

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use sio_protocol::engine::{
    Frame, Packet as EioPacket, PayloadDecoder, PayloadEncoder, PayloadFormat,
};
use sio_protocol::socket::{Decoder, DecoderConfig, Encoder, PacketData, Parser};
use sio_protocol::{Backoff, Value};

/// A chat message with an image: `Bytes` becomes a binary attachment.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct Message {
    user: String,
    text: String,
    image: Bytes,
}

const USAGE: &str = "\
demo: prints what sio-protocol puts on the wire and reads back (a Socket.IO event with typed
arguments and a binary attachment, an Engine.IO polling payload, socket.io-client's
reconnection delays); starts no server and opens no connection

usage: demo

  -h, --help   print this help and exit";

/// `--help` prints the usage and exits 0; any other argument prints an error and the usage
/// and exits 2.
fn parse_args() {
    if let Some(arg) = std::env::args().nth(1) {
        if arg == "--help" || arg == "-h" {
            println!("{USAGE}");
            std::process::exit(0);
        }
        eprintln!("error: unknown argument `{arg}`\n\n{USAGE}");
        std::process::exit(2);
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    parse_args();
    let message = Message {
        user: "alice".into(),
        text: "look!".into(),
        image: Bytes::from_static(&[0x89, b'P', b'N', b'G']),
    };

    // 1. Socket.IO: `socket.emit("chat", message, 42)` with an ack id, in namespace /room.
    let encoder = Encoder::new(Parser::Json);
    let encoded = encoder.encode_event("/room", "chat", &(&message, 42), Some(7))?;
    println!("Socket.IO frames for emit(\"chat\", message, 42) with ack 7:");
    let frames: Vec<Frame> = encoded.into_frames().collect();
    for frame in &frames {
        match frame {
            Frame::Text(text) => println!("  text   {text}"),
            Frame::Binary(bytes) => println!("  binary {bytes:02x?}"),
        }
    }

    // 2. Engine.IO over HTTP long-polling: the frames become one v4 payload.
    let packets: Vec<EioPacket> = frames
        .iter()
        .map(|f| match f {
            Frame::Text(t) => EioPacket::Message(t.clone()),
            Frame::Binary(b) => EioPacket::Binary(b.clone()),
        })
        .collect();
    let body = PayloadEncoder::encode(packets.iter(), PayloadFormat::V4);
    println!(
        "\nthe polling payload: {:?}",
        String::from_utf8_lossy(&body)
    );

    // 3. And back: the server side decodes the payload, then the Socket.IO packet.
    let mut decoder = Decoder::new(DecoderConfig::default());
    let mut decoded = None;
    for packet in PayloadDecoder::decode_all(body, PayloadFormat::V4, 1_000_000)? {
        let frame = match packet {
            EioPacket::Message(text) => Frame::Text(text),
            EioPacket::Binary(bytes) => Frame::Binary(bytes),
            other => return Err(format!("unexpected packet {other:?}").into()),
        };
        // `None` until the last attachment has arrived.
        decoded = decoder.decode(frame)?;
    }
    let packet = decoded.ok_or("incomplete packet")?;
    let PacketData::Event { name, args, id } = packet.data else {
        return Err("not an event".into());
    };
    let (received, n): (Message, u32) = args.deserialize()?;
    println!(
        "\ndecoded: namespace {}, event {:?}, ack id {id:?}",
        packet.nsp,
        name.as_str()
    );
    println!("  typed:   {received:?}, {n}");
    println!(
        "  dynamic: {:?}",
        args.to_values()?
            .iter()
            .map(Value::to_string)
            .collect::<Vec<_>>()
    );
    assert_eq!(received, message);

    // 4. socket.io-client's reconnection delays (1 s min, 5 s max, factor 2, jitter 0.5), with
    //    the random draws given by the caller.
    let mut backoff = Backoff::default();
    let delays: Vec<_> = [0.1, 0.9, 0.5, 0.3, 0.7]
        .iter()
        .map(|&r| backoff.duration(r))
        .collect();
    println!("\nreconnection delays: {delays:?}");
    Ok(())
}
