// kubectl for Skiff's end-to-end tests: the upstream command, built from the Go module proxy at the
// release pinned in go.mod (tools/kubectl/build builds and caches it). Not part of the product.
package main

import (
	"k8s.io/component-base/cli"
	"k8s.io/kubectl/pkg/cmd"
	"k8s.io/kubectl/pkg/cmd/util"
)

func main() {
	command := cmd.NewDefaultKubectlCommand()
	if err := cli.RunNoErrOutput(command); err != nil {
		util.CheckErr(err)
	}
}
