// Table 6: grid in SparseMixersHarness.TableCatalog; flags in SparseMixersTables.TableOptions
import SparseMixersTables

TableMain.run(.t6)
