package memstore_test

import (
	"testing"

	"mailtrail/adapters"
	"mailtrail/adapters/adaptertest"
	"mailtrail/adapters/memstore"
)

func TestConformanceRemote(t *testing.T) {
	adaptertest.RunRemote(t, func(t *testing.T) adapters.Remote { return memstore.NewRemote() })
}

func TestConformanceRemoteWithoutUIDPlus(t *testing.T) {
	adaptertest.RunRemote(t, func(t *testing.T) adapters.Remote {
		r := memstore.NewRemote()
		r.SetUIDPlus(false)
		return r
	})
}

func TestConformanceRemoteWithoutCondstore(t *testing.T) {
	adaptertest.RunRemote(t, func(t *testing.T) adapters.Remote {
		r := memstore.NewRemote()
		r.SetCondstore(false)
		return r
	})
}

func TestConformanceLocal(t *testing.T) {
	adaptertest.RunLocal(t, func(t *testing.T) adapters.Local { return memstore.NewLocal() })
}
