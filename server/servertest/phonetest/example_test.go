package phonetest_test

import (
	"fmt"

	"softland/server/servertest/phonetest"
)

// A server started outside servertest is dialled by the URL it serves on.
func ExampleBaseURL() {
	fmt.Println(phonetest.BaseURL("http://127.0.0.1:8080").WSURL())
	fmt.Println(phonetest.BaseURL("https://softland.example/").WSURL())
	// Output:
	// ws://127.0.0.1:8080/ws
	// wss://softland.example/ws
}
