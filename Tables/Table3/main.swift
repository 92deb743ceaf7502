// Table 3: grid in SparseMixersHarness.TableCatalog; flags in SparseMixersTables.TableOptions
import SparseMixersTables

TableMain.run(.t3)
